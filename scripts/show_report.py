"""Print the example pipeline's report: its rows, and revenue per region over the whole period.

    python scripts/show_report.py REPORT   (a folder, or s3a://bucket/prefix with the deployment's store)

make demo reads a local folder; make cluster-demo reads the report back from the object store.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
from deployment_store import configured_store


def read_report(report: str) -> pd.DataFrame:
    parts = urlsplit(report)
    if parts.scheme != "s3a":
        return pd.read_parquet(report)
    store = configured_store("show_report")
    if store is None:
        sys.exit("show_report: an s3a:// report needs the object store: set SPARKPLANE_OBJECT_STORE_CONN_ID.")
    client = store.s3_client()
    prefix = parts.path.strip("/") + "/"
    listed = client.list_objects_v2(Bucket=parts.netloc, Prefix=prefix).get("Contents", [])
    files = [item["Key"] for item in listed if item["Key"].endswith(".parquet")]
    if not files:
        sys.exit(f"show_report: no Parquet files under {report}")
    with tempfile.TemporaryDirectory() as folder:
        for key in files:
            client.download_file(parts.netloc, key, str(Path(folder) / key.rsplit("/", 1)[-1]))
        return pd.read_parquet(folder)


def main() -> None:
    report = read_report(sys.argv[1])
    print(f"\n{len(report)} rows; revenue per region over the whole period:")
    print(report.groupby("region")["revenue"].sum().sort_values(ascending=False).to_string())


if __name__ == "__main__":
    main()
