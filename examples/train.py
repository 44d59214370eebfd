"""The lab's training script, for students who edit rather than type.

Change the settings below and run:  .venv/bin/python examples/train.py
Everything else (data checks, TBPTT, validation, model.json records, guitar renders, resume,
test ESR) is the same `neuralfx.train()` the command line uses.
"""

from pathlib import Path

import neuralfx
from neuralfx.data.builtin import init_dataset

audio_folder = "data/softclip"  # holds input/*.wav (clean) and output/*.wav (processed)

hidden_size = 32  # the C++ example runs 8, 16, 32 or 64 without edits
model = "lstm"  # see `neuralfx models`: lstm, gru, conv-lstm, conv-gru
budget_seconds = 180  # wall-clock training time; 0 = until early stopping
render_every = 50  # epochs between renders of guitar.wav into the data folder
learning_rate = 5e-3
seed = 0

if __name__ == "__main__":
    if not (Path(audio_folder) / "input").is_dir():
        # no data yet: make the built-in demo dataset (synthesized, no download)
        init_dataset(audio_folder, effect="softclip")
    result = neuralfx.train(
        neuralfx.TrainConfig(
            data_dir=audio_folder,
            model=neuralfx.ModelConfig(name=model, hidden_size=hidden_size),
            budget_s=budget_seconds,
            render_every=render_every,
            learning_rate=learning_rate,
            seed=seed,
        )
    )
    print(f"test ESR {result.test_esr:.5f}; model: {Path(audio_folder) / 'model.json'}")
