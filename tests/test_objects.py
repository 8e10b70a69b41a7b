"""The BlobStore contract, run against both adapters: S3 (moto over HTTP) and the local folder."""

from __future__ import annotations

import hashlib
import io
import time
import tracemalloc
import urllib.request

import pytest

from db import objects
from db.objects import BlobNotFound, FolderStore, InvalidKey, S3Store


@pytest.fixture(params=["s3", "folder"])
def store(request, tmp_path):
    if request.param == "s3":
        endpoint, bucket = request.getfixturevalue("s3_bucket")
        return S3Store(bucket, endpoint_url=endpoint)
    return FolderStore(tmp_path / "objects")


class PatternStream(io.RawIOBase):
    """A readable stream of `size` pseudo-random bytes generated on the fly (never held in memory)."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        block = hashlib.sha256(str(self.pos // 4096).encode()).digest() * 128  # 4 KiB per block
        out = bytearray()
        while len(out) < n:
            offset = (self.pos + len(out)) % 4096
            out += block[offset: offset + n - len(out)]
        self.pos += n
        self.digest.update(out)
        return bytes(out)


def test_put_head_get_delete(store):
    assert store.put_bytes("videos/2026/01/01/a b#c.mp4", b"hello") == 5
    info = store.head("videos/2026/01/01/a b#c.mp4")
    assert info.size == 5 and info.storage_class == "STANDARD"
    assert store.get_bytes("videos/2026/01/01/a b#c.mp4") == b"hello"
    store.delete("videos/2026/01/01/a b#c.mp4")
    with pytest.raises(BlobNotFound):
        store.head("videos/2026/01/01/a b#c.mp4")
    store.delete("videos/2026/01/01/a b#c.mp4")  # deleting twice is harmless


def test_50mb_stream_uploads_in_parts_in_constant_memory(store):
    size = 50 * 1024 * 1024
    stream = PatternStream(size)
    tracemalloc.start()
    written = store.put_stream("big/stream.bin", stream)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert written == size
    assert store.head("big/stream.bin").size == size
    # a few 8 MiB parts in flight at most; buffering the whole stream would need 50 MB or more
    assert peak < 40 * 1024 * 1024, f"peak Python memory {peak / 1e6:.1f} MB for a 50 MB stream"
    got = hashlib.sha256()
    with store.open("big/stream.bin") as f:
        while chunk := f.read(1 << 20):
            got.update(chunk)
    assert got.hexdigest() == stream.digest.hexdigest()
    if isinstance(store, S3Store):
        parts = store.client.head_object(Bucket=store.bucket, Key="big/stream.bin", PartNumber=1)
        assert parts.get("PartsCount", 1) > 1, "the upload was not multipart"


def test_s3_class_change_of_a_large_object_copies_part_by_part(s3_bucket, monkeypatch):
    # CopyObject stops at 5 GiB; with the threshold lowered, 12 MiB takes the same UploadPartCopy path
    monkeypatch.setattr(objects, "COPY_PART", 5 * 1024 * 1024)
    endpoint, bucket = s3_bucket
    store = S3Store(bucket, endpoint_url=endpoint)
    stream = PatternStream(12 * 1024 * 1024)
    store.put_stream("videos/big original.mp4", stream, content_type="video/mp4")
    store.set_storage_class("videos/big original.mp4", "STANDARD_IA")
    info = store.head("videos/big original.mp4")
    assert (info.storage_class, info.size) == ("STANDARD_IA", stream.size)
    head = store.client.head_object(Bucket=bucket, Key="videos/big original.mp4")
    assert head["ContentType"] == "video/mp4", "the part-by-part copy lost the content type"
    part = store.client.head_object(Bucket=bucket, Key="videos/big original.mp4", PartNumber=1)
    assert part["PartsCount"] == 3, "the copy was not multipart"
    got = hashlib.sha256()
    with store.open("videos/big original.mp4") as f:
        while chunk := f.read(1 << 20):
            got.update(chunk)
    assert got.hexdigest() == stream.digest.hexdigest()


def test_url_returns_the_same_bytes(store):
    data = bytes(range(256)) * 100
    store.put_bytes("thumbnails/x.jpg", data)
    url = store.url("thumbnails/x.jpg", expires_s=60)
    if isinstance(store, S3Store):
        assert "X-Amz-Expires=60" in url or "Expires=" in url
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == data


@pytest.mark.parametrize("key", ["../../etc/passwd", "/abs/path", "a/../../b", "", "a\\..\\b", "x/\x00y", "./a"])
def test_escaping_keys_are_refused(store, key):
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"nope")
    with pytest.raises(InvalidKey):
        store.head(key)


def test_folder_store_never_writes_outside_its_root(tmp_path):
    store = FolderStore(tmp_path / "root")
    for key in ["../outside", "/tmp/outside", "sub/../../outside"]:
        with pytest.raises(InvalidKey):
            store.put_bytes(key, b"x")
    assert not (tmp_path / "outside").exists()


def test_folder_writes_are_atomic(tmp_path):
    store = FolderStore(tmp_path / "root")
    store.put_bytes("k.bin", b"old")

    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            raise OSError("disk went away")

    with pytest.raises(OSError):
        store.put_stream("k.bin", Broken())
    assert store.get_bytes("k.bin") == b"old"
    assert not [p for p in (tmp_path / "root").iterdir() if p.name.startswith(".tmp-")]


def test_s3_down_is_store_unavailable_fast_not_a_missing_object(moto_s3):
    from tests.conftest import free_port

    down = S3Store("sentinel-down", endpoint_url=f"http://127.0.0.1:{free_port()}", retries=1)
    for call in (down.ensure_reachable, down.check, lambda: down.head("k"), lambda: down.put_bytes("k", b"x"),
                 lambda: down.open("k"), lambda: down.delete("k")):
        started = time.monotonic()
        with pytest.raises(objects.StoreUnavailable, match="^the object store is unreachable: "):
            call()
        assert time.monotonic() - started < 5
    assert objects.StoreUnavailable.transient and not issubclass(objects.StoreUnavailable, BlobNotFound)


def test_a_missing_bucket_is_created_or_named_with_how_to_create_it(moto_s3):
    import uuid

    from botocore.stub import Stubber

    store = S3Store(f"sentinel-{uuid.uuid4().hex[:12]}", endpoint_url=moto_s3)
    with pytest.raises(objects.BucketMissing, match="aws s3 mb"):
        store.check()
    assert store.ensure_bucket() is True and store.ensure_bucket() is False
    assert store.check().startswith("s3://")

    # credentials that may not create buckets: one line that says how to
    denied = S3Store("sentinel-denied", endpoint_url=moto_s3)
    with Stubber(denied.client) as stub:
        stub.add_client_error("head_bucket", "404", http_status_code=404)
        stub.add_client_error("create_bucket", "AccessDenied", "Access Denied", http_status_code=403)
        denied._probe = denied.client
        with pytest.raises(objects.BucketMissing) as caught:
            denied.ensure_bucket()
    message = str(caught.value)
    assert "\n" not in message and "AccessDenied" in message
    assert f"aws s3 mb s3://sentinel-denied --endpoint-url {moto_s3}" in message
