"""The API's .proto files pass `buf lint`, and the committed Python modules are exactly what
`make proto` generates from them (so nobody edits one without the other)."""

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_buf_lint_is_clean():
    buf = shutil.which('buf', path=str(BIN)) or shutil.which('buf')
    assert buf, 'buf (PyPI buf-bin) is not installed'
    run = subprocess.run([buf, 'lint'], cwd=ROOT / 'proto', capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_generated_modules_match_the_proto(tmp_path):
    run = subprocess.run(
        ['make', '-s', 'proto', f'PROTO_OUT={tmp_path}', f'PY={sys.executable}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, 'MAKEFLAGS': ''},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    generated = sorted(p.name for p in (tmp_path / 'naas' / 'v1').iterdir())
    committed = sorted(
        p.name
        for p in (ROOT / 'proto' / 'naas' / 'v1').iterdir()
        if p.suffix in ('.py', '.pyi') and p.name != '__init__.py'
    )
    assert generated == committed
    _, mismatch, errors = filecmp.cmpfiles(
        tmp_path / 'naas' / 'v1', ROOT / 'proto' / 'naas' / 'v1', generated, shallow=False
    )
    assert mismatch == errors == [], f'run `make proto` and commit: {mismatch + errors} differ'
