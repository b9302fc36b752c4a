"""Where the tests find the checkout's files, wherever a test module sits in the tree."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout
EXAMPLES = ROOT / "examples"  # the example members files
SPEC = ROOT.parent / "shared" / "spec"  # the binding contracts, beside the checkout
