"""Exports the trained MoE to a Hugging Face Mixtral folder and writes the greedy-output fixture.

Usage: python3 scripts/model/export.py RUN_DIR MODEL_DIR FIXTURE_JSON [RUN_NAME]
Reads RUN_DIR/RUN_NAME.pt (from train.py; default moe, the chat fine-tune's is moe-chat); MODEL_DIR
must already hold the tokenizer files (from tokenizer.mjs) and chat_template.jinja. Writes
MODEL_DIR/{config.json, model.safetensors (F16)} and FIXTURE_JSON: the greedy continuation of PROMPT
and the greedy reply to CHAT (rendered by the chat template), computed by the float64 reference
forward of scripts/fixtures/make_models.py (which follows transformers' modeling_mixtral) on the F16
weights read back from the written file.
"""
import json
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'fixtures'))
import make_models as ref  # noqa: E402  (the float64 reference forward and safetensors writer)
from train import CONFIG  # noqa: E402

PROMPT = 'It was a fine morning, and Elizabeth'
NEW_TOKENS = 48
CHAT = [{'role': 'user', 'content': 'Good morning! Have you heard the news from Netherfield?'}]
CHAT_TOKENS = 64
# Scored by `webmoe perplexity` in the tests: its loss must equal the reference's.
PASSAGE = ('Mrs. Bennet had no sooner heard the news than she hurried to tell her sister, who was not at home; '
           'and the disappointment was so great that she could talk of nothing else for the rest of the day.')


def hub_tensors(state):
    """train.py's parameter names → the Mixtral Hub names (experts unstacked, one tensor each)."""
    out = {}
    for name, t in state.items():
        name = name if name == 'lm_head.weight' else 'model.' + name
        if '.experts.' in name:
            prefix, w = name.rsplit('.', 1)
            for e in range(t.shape[0]):
                out[f'{prefix}.{e}.{w}.weight'] = t[e]
        else:
            out[name] = t
    return out


def hub_config():
    c = dict(CONFIG)
    c.update(architectures=['MixtralForCausalLM'], model_type='mixtral', hidden_act='silu',
             tie_word_embeddings=False, torch_dtype='float16', sliding_window=None,
             router_aux_loss_coef=0.01, output_router_logits=False, use_cache=True,
             initializer_range=0.02, attention_dropout=0.0)
    return dict(sorted(c.items()))


def tokens(model_dir, op, arg):
    script = Path(__file__).with_name('tokens.mjs')
    return json.loads(subprocess.run(['node', str(script), str(model_dir), op, arg], check=True,
                                     capture_output=True, text=True).stdout)


def greedy(cfg, W, prompt_ids, new_tokens, gaps, margins):
    """The reference's greedy continuation (KV-cached), up to new_tokens or the EOS (kept)."""
    cache, ids = {}, []
    logits = ref.forward(cfg, W, prompt_ids, 0, cache, gaps)
    for _ in range(new_tokens):
        top = logits[-1].topk(2).values
        margins.append(float(top[0] - top[1]))
        ids.append(int(logits[-1].argmax()))
        if ids[-1] == cfg['eos_token_id']:
            break
        logits = ref.forward(cfg, W, [ids[-1]], len(prompt_ids) + len(ids) - 1, cache, gaps)
    return ids


def main(run_dir, model_dir, fixture, run_name='moe'):
    model_dir = Path(model_dir)
    state = torch.load(Path(run_dir) / f'{run_name}.pt')
    ref.write_safetensors(model_dir / 'model.safetensors', hub_tensors(state), 'F16')
    (model_dir / 'config.json').write_text(json.dumps(hub_config(), indent=2) + '\n')

    cfg = json.loads((model_dir / 'config.json').read_text())
    weights, _ = ref.load_checkpoint(model_dir)
    W = ref.Weights(weights)
    prompt_ids = tokens(model_dir, 'encode', PROMPT)
    gaps, margins = [], []
    ids = greedy(cfg, W, prompt_ids, NEW_TOKENS, gaps, margins)
    chat_prompt_ids = tokens(model_dir, 'chat', json.dumps(CHAT))
    chat_ids = greedy(cfg, W, chat_prompt_ids, CHAT_TOKENS, gaps, margins)
    reply = [i for i in chat_ids if i != cfg['eos_token_id']]
    # The passage as `webmoe perplexity --window len-1` reads it: BOS + all but its last token in, each
    # of the first len-1 tokens scored.
    passage = tokens(model_dir, 'encode', PASSAGE)[1:]
    window = len(passage) - 1
    logp = torch.log_softmax(ref.forward(cfg, W, [cfg['bos_token_id']] + passage[:window - 1]), dim=-1)
    passage_loss = float(-logp[torch.arange(window), torch.tensor(passage[:window])].mean())
    out = dict(prompt=PROMPT, prompt_ids=prompt_ids, ids=ids, text=tokens(model_dir, 'decode', ','.join(map(str, ids))),
               chat=CHAT, chat_max_tokens=CHAT_TOKENS, chat_prompt_ids=chat_prompt_ids, chat_ids=chat_ids,
               chat_text=tokens(model_dir, 'decode', ','.join(map(str, reply))) if reply else '',
               min_logit_margin=min(margins), min_router_gap=min(gaps),
               passage=PASSAGE, passage_window=window, passage_loss=passage_loss)
    Path(fixture).write_text(json.dumps(out, indent=1) + '\n')
    print(json.dumps(out))


if __name__ == '__main__':
    main(*sys.argv[1:])
