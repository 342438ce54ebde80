"""Regenerate the bundled SYNTHETIC call-centre data (seeded, so the file is reproducible)."""

from gpcast.config import SAMPLE_DATA
from gpcast.data.sample import make_call_centre

if __name__ == "__main__":
    SAMPLE_DATA.parent.mkdir(parents=True, exist_ok=True)
    make_call_centre().to_csv(SAMPLE_DATA, index=False)
    print(f"wrote {SAMPLE_DATA}")
