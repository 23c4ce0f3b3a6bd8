"""Draws conversations from the novels for the chat fine-tune: runs of consecutive speeches.

Usage: python3 scripts/model/dialogue.py CORPUS_DIR
Reads CORPUS_DIR/{train,val}.txt (from corpus.py); writes CORPUS_DIR/{train,val}_chats.json: a list
of conversations, each a list of turns (strings) that alternate user, assistant, user, ...

A speech is a paragraph that opens with a quotation mark; a new paragraph of speech is a new speaker
(the novels' convention), and a paragraph whose quotes do not close continues in the next one (one
speaker's long speech). A speech's turn is its quoted words only, the narration between them
("said Emma") left out. Two or more speeches in a row make a conversation, cut into pieces of at
most MAX_TURNS turns (an even number: each ends with an assistant turn) and at any overlong speech.
"""
import json
import re
import sys

MAX_TURNS = 6
MAX_CHARS = 600  # longer speeches are monologues, not turns of a chat


def speeches(paragraphs):
    """Yields runs of consecutive speeches (each run a list of turn texts)."""
    run, open_speech = [], None
    for p in paragraphs + ['']:
        if open_speech is not None and p.startswith('"'):
            open_speech += ' ' + p
        elif p.startswith('"'):
            open_speech = p
        else:
            if len(run) > 1:
                yield run
            run, open_speech = [], None
            continue
        if open_speech.count('"') % 2 == 0:
            run.append(open_speech)
            open_speech = None


def spoken(paragraph):
    """The quoted words of a speech: the odd pieces between quotation marks, joined."""
    parts = [s.strip() for s in paragraph.split('"')[1::2]]
    text = ' '.join(s for s in parts if s)
    return re.sub(r',$', '.', text)  # "Well," said he: the cut-off clause ends with a full stop


def conversations(text):
    out = []
    for run in speeches([p.strip() for p in text.split('\n\n')]):
        # An empty or overlong turn ends a conversation; the next starts after it.
        pieces, cur = [], []
        for t in map(spoken, run):
            if t and len(t) <= MAX_CHARS:
                cur.append(t)
            else:
                pieces.append(cur)
                cur = []
        for turns in pieces + [cur]:
            for i in range(0, len(turns) - 1, MAX_TURNS):
                piece = turns[i:i + MAX_TURNS]
                if len(piece) > 1:
                    out.append(piece[:len(piece) // 2 * 2])  # ends with an assistant turn
    return out


def main(corpus_dir):
    for split in ('train', 'val'):
        with open(f'{corpus_dir}/{split}.txt') as f:
            chats = conversations(f.read())
        with open(f'{corpus_dir}/{split}_chats.json', 'w') as f:
            json.dump(chats, f, indent=0)
        turns = sum(map(len, chats))
        chars = sum(len(t) for c in chats for t in c)
        print(f'{split}: {len(chats)} conversations, {turns} turns, {chars} characters')


if __name__ == '__main__':
    main(sys.argv[1])
