// The bundled default model, served from public/ by the demo's Vite config.
export const BUNDLED_MODEL = './models/austen-moe/';
