"""Files the gate writes and moves, through Hadoop's FileSystem: one code path for every store.

Spark already reads and writes the job's data through Hadoop's FileSystem (a local folder, or an
object store through its connector), so staging, promotion and the result files go the same way,
whatever the output URI's scheme. Reached through the SparkSession's JVM gateway.

Promotion is a rename. On a local or HDFS file system a folder's rename is atomic; the old output
is renamed aside first and removed after, so a reader sees the old output, briefly none, then the
new one, and never a half-written one. On an object store a rename is a copy of every object
followed by a delete (Hadoop's S3A connector works that way, in no set order), so a reader there
could list a half-copied output. What marks an output complete is then its ``_SUCCESS`` file, the
marker Spark's own commit writes: promotion removes the old output's marker first, moves the
staged output without its marker, and writes the marker last. A consumer that starts reading an
output only once its ``_SUCCESS`` is there (the usual contract on object stores) never reads a
partial one; one already reading when a promotion starts can still see files go.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


#: The file that marks an output complete: Spark's commit writes it, promotion writes it last.
COMPLETE_MARKER = "_SUCCESS"


def sibling(uri: str, folder: str) -> str:
    """Return ``<parent>/<folder>/<name>`` for ``<parent>/<name>``: Spark skips ``_``-folders when reading a parent."""
    parent, name = posixpath.split(uri.rstrip("/"))
    return posixpath.join(parent, folder, name)


class Storage:
    """Hadoop FileSystem calls the gate needs, for any URI Spark can write.

    :param spark: the job's session; its Hadoop configuration (connectors, credentials) applies.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def delete(self, uri: str) -> None:
        """Remove ``uri`` and everything under it, if it exists."""
        fs, path = self._path(uri)
        if fs.exists(path):
            fs.delete(path, True)

    def write_text(self, uri: str, text: str) -> None:
        """Write ``text`` (UTF-8) to the file ``uri``, replacing it."""
        fs, path = self._path(uri)
        stream = fs.create(path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def upload_folder(self, local_folder: str, uri: str) -> None:
        """Copy a local folder's files to ``uri`` (replacing what was there)."""
        self.delete(uri)
        fs, path = self._path(uri)
        fs.copyFromLocalFile(False, True, self._jvm.org.apache.hadoop.fs.Path("file://" + local_folder), path)

    def restore_interrupted_promotion(self, output: str) -> bool:
        """Put back an earlier output a job that died mid-promotion left aside; return whether there was one.

        The output aside is complete when it carries its marker (written once the move aside
        ended); what is at ``output`` then without a marker is a copy that stopped part-way.
        """
        fs, output_path = self._path(output)
        previous = self._jvm.org.apache.hadoop.fs.Path(sibling(output, "_previous"))
        if not _is_complete(self._jvm, fs, previous) or _is_complete(self._jvm, fs, output_path):
            return False
        fs.delete(output_path, True)
        if not _rename(fs, previous, output_path):
            return False
        _mark_complete(self._jvm, fs, output_path)
        return True

    def promote(self, staged: str, output: str) -> None:
        """Move the folder ``staged`` to ``output``, replacing an earlier output, the marker last.

        The earlier output loses its marker first, is moved aside to ``<parent>/_previous/<name>``
        (marked there once whole) and removed last; if the staged folder cannot take its place,
        the earlier output goes back, marked again.
        """
        self.restore_interrupted_promotion(output)
        jvm = self._jvm
        fs, output_path = self._path(output)
        _, staged_path = self._path(staged)
        previous = jvm.org.apache.hadoop.fs.Path(sibling(output, "_previous"))
        # Readers that wait for the marker stop taking the old output before any of it moves.
        fs.delete(jvm.org.apache.hadoop.fs.Path(output_path, COMPLETE_MARKER), False)
        fs.delete(jvm.org.apache.hadoop.fs.Path(staged_path, COMPLETE_MARKER), False)
        fs.delete(previous, True)
        if fs.exists(output_path):
            fs.mkdirs(previous.getParent())
            if not _rename(fs, output_path, previous):
                fs.delete(previous, True)  # a copy that stopped part-way; the output itself is whole
                _mark_complete(jvm, fs, output_path)
                raise OSError(f"could not move the earlier output {output} aside to {previous}; it stays published")
            _mark_complete(jvm, fs, previous)
        fs.mkdirs(output_path.getParent())
        if not _rename(fs, staged_path, output_path):
            fs.delete(output_path, True)  # on an object store, a copy that stopped part-way
            if _is_complete(jvm, fs, previous) and _rename(fs, previous, output_path):
                _mark_complete(jvm, fs, output_path)  # the earlier output goes back: nothing published is lost
            raise OSError(f"could not promote {staged} to {output}; the earlier output, if any, is published again")
        _mark_complete(jvm, fs, output_path)  # last: the output is complete
        fs.delete(previous, True)
        for emptied in (previous.getParent(), staged_path.getParent()):
            _delete_if_empty(fs, emptied)


def _is_complete(jvm: Any, fs: Any, folder: Any) -> bool:
    return bool(fs.exists(jvm.org.apache.hadoop.fs.Path(folder, COMPLETE_MARKER)))


def _mark_complete(jvm: Any, fs: Any, folder: Any) -> None:
    fs.create(jvm.org.apache.hadoop.fs.Path(folder, COMPLETE_MARKER), True).close()


def _rename(fs: Any, source: Any, target: Any) -> bool:
    """Rename; False when the file system refuses, whether it says so by answer or by exception."""
    from py4j.protocol import Py4JJavaError

    try:
        return bool(fs.rename(source, target))
    except Py4JJavaError:
        return False


def _delete_if_empty(fs: Any, path: Any) -> None:
    if fs.exists(path) and not fs.listStatus(path):
        fs.delete(path, False)
