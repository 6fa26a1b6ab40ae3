"""The study manifest's checksums (hyperscan.provenance): hashed side by side on threads
(issue #19), the same digests as hashlib on the bytes and the same document on any number
of threads."""
import hashlib
import json
from types import SimpleNamespace

import numpy as np

from hyperscan.provenance import manifest, sha256, sha256_files


def test_sha256_files_gives_each_files_digest_once_on_any_number_of_threads(tmp_path):
    rng = np.random.default_rng(3)
    files = []
    for k, size in enumerate([0, 3, 1 << 20, (1 << 21) + 17, 5000]):
        p = tmp_path / f"f{k}.bin"
        p.write_bytes(b"abc" if size == 3 else rng.bytes(size))
        files.append(p)
    # FIPS 180-2's example: sha256("abc")
    assert sha256(files[1]) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    expected = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    for threads in (1, 2, 3):
        got = sha256_files(files + [str(files[2])], threads=threads)  # a path given twice: hashed once
        assert got == expected
    assert sha256_files([], threads=2) == {}


def test_manifest_is_the_same_document_on_one_and_two_threads(tmp_path):
    out = tmp_path / "out"
    (out / "D1" / "S1").mkdir(parents=True)
    (out / "group" / "figures").mkdir(parents=True)
    rng = np.random.default_rng(4)
    study = tmp_path / "study"
    study.mkdir()
    sessions = []
    for s in ("S1", "S2"):
        rec = {}
        for role in ("client", "therapist"):
            p = study / f"{s}_{role}.edf"
            p.write_bytes(rng.bytes(300_000))
            rec[role] = str(p)
        reports = study / f"{s}_reports.tsv"
        reports.write_text("onset\tduration\tlabel\n1\t2\tx\n")
        sessions.append(SimpleNamespace(dyad="D1", session=s, reports=str(reports), **rec))
    sheet = study / "sessions.tsv"
    sheet.write_text("dyad\tsession\n")
    outputs = []
    for name in ("D1/S1/synchrony.nc", "D1/S1/windows.tsv", "D1/S1/windows.json", "group/figures/a.png"):
        p = out / name
        p.write_bytes(rng.bytes(int(rng.integers(10, 200_000))))
        outputs.append(p if not name.startswith("group/figures") else p.parent)
    outputs = [o for o in outputs if o.suffix != ".json"]  # the sidecar is found beside its table
    config = {"output_dir": str(out), "sessions": str(sheet)}
    docs = [manifest(config, sessions, out, outputs, threads=t) for t in (1, 2)]
    docs[0].pop("versions"), docs[1].pop("versions")
    assert json.dumps(docs[0], sort_keys=True) == json.dumps(docs[1], sort_keys=True)
    doc = docs[1]
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*") if p.is_file()}
    assert doc["outputs"] == {p.relative_to(out).as_posix(): d for p, d in digest.items()}
    for s in sessions:
        for role in ("client", "therapist", "reports"):
            entry = doc["inputs"][f"D1/{s.session}"][role]
            assert entry == {"path": getattr(s, role),
                             "sha256": hashlib.sha256(open(getattr(s, role), "rb").read()).hexdigest()}
    assert doc["inputs"]["sessions_sheet"]["sha256"] == hashlib.sha256(sheet.read_bytes()).hexdigest()
