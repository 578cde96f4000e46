"""Which files make up a job's code, by content: what the preflight compares with the image.

The image records the sha256 of every job file at build time (image/record_contents.py); a job
edited, or a helper module of ``jobs/`` it imports changed, after the image was built would
otherwise run the image's old copy without a word.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sparkplane.image.job_imports import job_source_files


def job_code_sha256(job_file: Path, jobs_dir: Path) -> dict[str, str]:
    """Return ``{path under jobs_dir: sha256}`` of the job's file and of the jobs/ files it imports."""
    root = jobs_dir.resolve()
    return {path.resolve().relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in job_source_files(job_file, jobs_dir)}  # fmt: skip
