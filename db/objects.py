"""One BlobStore interface with two adapters: S3 (boto3) and a local folder."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

log = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024  # S3's multipart minimum is 5 MiB; 8 MiB parts keep memory flat
# CopyObject refuses sources over 5 GiB; above this size a class change copies part by part
COPY_PART = 512 * 1024 * 1024

# storage classes per tier, S3 names
TIER_CLASSES = {"hot": "STANDARD", "warm": "STANDARD_IA", "archive": "GLACIER"}
MEDIA_URL_S = 12 * 3600  # a decoder's presigned URL outlives the longest chunk or stitch
CLASS_TIERS = {"STANDARD": "hot", "STANDARD_IA": "warm", "ONEZONE_IA": "warm", "INTELLIGENT_TIERING": "warm",
               "GLACIER": "archive", "DEEP_ARCHIVE": "archive", "GLACIER_IR": "archive"}


class InvalidKey(ValueError):
    """A key that could escape the store (absolute, `..`, empty or with control characters)."""


class BlobNotFound(KeyError):
    """No object under that key."""


class ObjectArchived(RuntimeError):
    """The object is in the archive tier and must be restored before it can be read."""


class StoreUnavailable(RuntimeError):
    """The object store cannot be reached: refused, timed out, no such host, or 5xx after the retries.

    Not a missing object (BlobNotFound): it passes by itself, so the API answers 503 and jobs wait and retry.
    """

    transient = True


class BucketMissing(RuntimeError):
    """S3_BUCKET does not exist and these credentials may not create it; the message says how to."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    storage_class: str = "STANDARD"
    restore: str | None = None  # None, 'ongoing' or 'restored'
    last_modified: datetime | None = None
    restore_expires_at: datetime | None = None  # when a restored copy goes away (S3 tells; the folder does not)


_RESTORE_ONGOING = re.compile(r'ongoing-request\s*=\s*"(true|false)"', re.IGNORECASE)
_RESTORE_EXPIRY = re.compile(r'expiry-date\s*=\s*"([^"]+)"', re.IGNORECASE)


def parse_restore_header(header: str | None) -> tuple[str | None, datetime | None]:
    """Parse S3's `Restore` (x-amz-restore) header into (state, expiry).

    Example:
        >>> parse_restore_header('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"')
        ('restored', datetime.datetime(2012, 12, 21, 0, 0, tzinfo=datetime.timezone.utc))
        >>> parse_restore_header('ongoing-request="true"')
        ('ongoing', None)
    """
    from email.utils import parsedate_to_datetime

    if not header:
        return None, None
    ongoing = _RESTORE_ONGOING.search(header)
    if ongoing and ongoing.group(1).lower() == "true":
        return "ongoing", None
    expiry = None
    if found := _RESTORE_EXPIRY.search(header):
        try:
            expiry = parsedate_to_datetime(found.group(1)).astimezone(timezone.utc)
        except (TypeError, ValueError):
            expiry = None  # an unreadable date must not hide that the copy is readable
    return "restored", expiry


def check_key(key: str) -> str:
    """Return the key if it is a safe relative path, else raise InvalidKey."""
    if not key or key.startswith(("/", "\\")) or "\\" in key or any(ord(c) < 32 for c in key):
        raise InvalidKey(f"Invalid object key {key!r}: keys are relative paths without '..'.")
    parts = key.split("/")
    if any(p in ("..", ".", "") for p in parts) or ":" in parts[0]:
        raise InvalidKey(f"Invalid object key {key!r}: keys are relative paths without '..'.")
    return key


class BlobStore(ABC):
    """Where originals, thumbnails and highlights live."""

    name: str

    @abstractmethod
    def put_stream(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> int:
        """Store a stream under key in constant memory; return the byte count."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> int:
        import io

        return self.put_stream(key, io.BytesIO(data), content_type=content_type)

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object."""

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    @abstractmethod
    def head(self, key: str) -> BlobInfo:
        """Size, storage class and restore state; BlobNotFound if absent."""

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
            return True
        except BlobNotFound:
            return False

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (no error when already gone)."""

    @abstractmethod
    def url(self, key: str, *, expires_s: int = 3600) -> str:
        """A URL a browser can GET: presigned for S3, file:// for the folder."""

    @abstractmethod
    def local_path(self, key: str) -> Iterator[Path]:
        """Context manager yielding a local file path of the object (downloaded if remote)."""

    def media_source(self, key: str):
        """Context manager yielding what the decoder opens to read only the parts it seeks to: a path or a URL."""
        return self.local_path(key)

    @abstractmethod
    def set_storage_class(self, key: str, storage_class: str) -> None:
        """Move the object to another storage class."""

    @abstractmethod
    def request_restore(self, key: str, *, days: int) -> None:
        """Ask for an archived object to be readable again for `days`."""

    @abstractmethod
    def check(self) -> str:
        """Raise if the store is unusable; return a short description for health."""

    @abstractmethod
    def ensure_reachable(self) -> None:
        """Raise StoreUnavailable unless the store answers now (one quick try)."""


class FolderStore(BlobStore):
    """A folder on disk; the archive tier is a subfolder with the same restore state machine."""

    name = "folder"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._archive = self.root / ".archive"
        self._meta = self.root / ".meta"

    def _path(self, key: str, base: Path | None = None) -> Path:
        base = base or self.root
        path = (base / check_key(key)).resolve()
        if not path.is_relative_to(base):
            raise InvalidKey(f"Invalid object key {key!r}: it escapes the store.")
        return path

    def _read_class(self, key: str) -> tuple[str, str | None]:
        f = self._meta / (check_key(key) + ".class")
        if not f.exists():
            return "STANDARD", None
        cls, _, restore = f.read_text().partition(" ")
        return cls, (restore or None)

    def _write_class(self, key: str, storage_class: str, restore: str | None) -> None:
        f = self._meta / (check_key(key) + ".class")
        if storage_class == "STANDARD" and restore is None:
            f.unlink(missing_ok=True)
            return
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(storage_class + (f" {restore}" if restore else ""))

    def put_stream(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> int:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)  # atomic: readers see the old object or the whole new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._write_class(key, "STANDARD", None)
        return size

    def _readable_path(self, key: str) -> Path:
        path = self._path(key)
        if path.exists():
            return path
        if self._path(key, self._archive).exists():
            raise ObjectArchived(f"{key} is archived; restore it first.")
        raise BlobNotFound(key)

    def open(self, key: str) -> BinaryIO:
        return open(self._readable_path(key), "rb")

    def head(self, key: str) -> BlobInfo:
        path = self._path(key)
        archived = self._path(key, self._archive)
        cls, restore = self._read_class(key)
        if path.exists():
            st = path.stat()
        elif archived.exists():
            st = archived.stat()
        else:
            raise BlobNotFound(key)
        return BlobInfo(key, st.st_size, cls, restore, datetime.fromtimestamp(st.st_mtime, timezone.utc))

    def delete(self, key: str) -> None:
        for path in (self._path(key), self._path(key, self._archive)):
            path.unlink(missing_ok=True)
        self._write_class(key, "STANDARD", None)

    def url(self, key: str, *, expires_s: int = 3600) -> str:
        return self._readable_path(key).as_uri()

    def local_path(self, key: str):
        from contextlib import nullcontext

        return nullcontext(self._readable_path(key))

    def set_storage_class(self, key: str, storage_class: str) -> None:
        info = self.head(key)
        path, archived = self._path(key), self._path(key, self._archive)
        if CLASS_TIERS.get(storage_class) == "archive":
            if path.exists():
                archived.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, archived)
            self._write_class(key, storage_class, None)
        else:
            if archived.exists() and not path.exists():
                if info.restore != "restored":
                    raise ObjectArchived(f"{key} is archived; restore it before changing its class.")
                os.replace(archived, path)
            archived.unlink(missing_ok=True)
            self._write_class(key, storage_class, None)

    def request_restore(self, key: str, *, days: int) -> None:
        """Archived -> restoring; `complete_restores` finishes it (instantly, there is no tape here)."""
        info = self.head(key)
        if CLASS_TIERS.get(info.storage_class) != "archive":
            return
        if info.restore is None:
            self._write_class(key, info.storage_class, "ongoing")

    def complete_restores(self) -> int:
        """Finish every pending restore: the object becomes readable while its class stays archive."""
        done = 0
        if not self._meta.exists():
            return 0
        for f in self._meta.rglob("*.class"):
            cls, _, restore = f.read_text().partition(" ")
            if restore == "ongoing":
                key = f.relative_to(self._meta).as_posix()[: -len(".class")]
                archived, path = self._path(key, self._archive), self._path(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(archived, path)
                f.write_text(f"{cls} restored")
                done += 1
        return done

    def ensure_reachable(self) -> None:
        return None  # a local folder is always there (check() tells whether it is writable)

    def check(self) -> str:
        probe = self.root / ".health"
        probe.write_text("ok")
        probe.unlink()
        return f"folder {self.root}"

    def keys(self, prefix: str = "") -> list[str]:
        out = []
        for base in (self.root, self._archive):
            if base.exists():
                out += [p.relative_to(base).as_posix() for p in base.rglob("*")
                        if p.is_file() and not p.name.startswith(".")
                        and not p.relative_to(base).as_posix().startswith((".archive", ".meta"))]
        return sorted(k for k in set(out) if k.startswith(prefix))


class S3Store(BlobStore):
    """Any S3-compatible bucket through boto3 (AWS, MinIO, R2...)."""

    name = "s3"

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str = "us-east-1",
                 client=None, retries: int = 3, connect_timeout_s: float = 3.0, read_timeout_s: float = 60.0) -> None:
        """Args:
            retries: retries after the first attempt of each call, in botocore's "standard" mode
                (exponential back-off with jitter, on throttling, 5xx and connection errors).
            connect_timeout_s, read_timeout_s: per attempt. `check` and `ensure_reachable` make one
                attempt with the connect timeout only, so a request in front of a user fails in seconds.
        """
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region

        def make(attempts: int, read_timeout: float):
            return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=Config(
                retries={"mode": "standard", "max_attempts": attempts}, signature_version="s3v4",
                connect_timeout=connect_timeout_s, read_timeout=read_timeout))

        self.client = client or make(retries, read_timeout_s)
        self._probe = client or make(0, min(read_timeout_s, 10.0))

    @contextmanager
    def _reached(self) -> Iterator[None]:
        """Turn botocore's connection failures (and 5xx answers after the retries) into StoreUnavailable."""
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        try:
            yield
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StoreUnavailable(f"the object store is unreachable: {_first_line(exc)}") from exc
        except ClientError as exc:
            if int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500:
                raise StoreUnavailable(f"the object store is unreachable: {_first_line(exc)}") from exc
            raise

    def _mb_hint(self) -> str:
        endpoint = f" --endpoint-url {self.endpoint_url}" if self.endpoint_url else ""
        return f"create it with `aws s3 mb s3://{self.bucket}{endpoint}`, or set S3_BUCKET to one that exists"

    def ensure_bucket(self) -> bool:
        """Create the bucket when it is missing and the credentials allow; True when it was created.

        Raises BucketMissing (one line that says how to create it) when they do not, and
        StoreUnavailable when the endpoint cannot be reached.
        """
        from botocore.exceptions import ClientError

        with self._reached():
            try:
                self._probe.head_bucket(Bucket=self.bucket)
                return False
            except ClientError as exc:
                if not self._not_found(exc) and _code(exc) != "NoSuchBucket":
                    return False  # it exists (403: another owner, or no s3:ListBucket); writes will tell
            extra = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            try:
                self.client.create_bucket(Bucket=self.bucket, **extra)
            except ClientError as exc:
                if _code(exc) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    return False
                if int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500:
                    raise
                raise BucketMissing(f"The bucket {self.bucket} does not exist and these credentials cannot create "
                                    f"it ({_code(exc) or _first_line(exc)}); {self._mb_hint()}.") from exc
        log.info("created the missing bucket s3://%s%s", self.bucket,
                 f" at {self.endpoint_url}" if self.endpoint_url else "")
        return True

    def ensure_reachable(self) -> None:
        from botocore.exceptions import ClientError

        with self._reached():
            try:
                self._probe.head_bucket(Bucket=self.bucket)
            except ClientError as exc:  # any answer but a 5xx: the store is there
                if int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500:
                    raise

    def put_stream(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> int:
        from boto3.s3.transfer import TransferConfig

        counter = _CountingReader(stream)
        extra = {"ContentType": content_type} if content_type else {}
        # upload_fileobj streams multipart in CHUNK-sized parts, so memory stays flat for any size
        config = TransferConfig(multipart_threshold=CHUNK, multipart_chunksize=CHUNK, max_concurrency=2)
        config.max_in_memory_upload_chunks = 2  # bounds the parts buffered from a non-seekable stream
        with self._reached():
            self.client.upload_fileobj(counter, self.bucket, check_key(key), ExtraArgs=extra, Config=config)
        return counter.count

    def _not_found(self, exc) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("404", "NoSuchKey", "NotFound")

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            with self._reached():
                return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"]
        except ClientError as exc:
            if self._not_found(exc):
                raise BlobNotFound(key) from exc
            if exc.response.get("Error", {}).get("Code") == "InvalidObjectState":
                raise ObjectArchived(f"{key} is archived; restore it first.") from exc
            raise

    def head(self, key: str) -> BlobInfo:
        from botocore.exceptions import ClientError

        try:
            with self._reached():
                r = self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if self._not_found(exc):
                raise BlobNotFound(key) from exc
            raise
        restore, expires_at = parse_restore_header(r.get("Restore"))
        return BlobInfo(key, r["ContentLength"], r.get("StorageClass", "STANDARD"), restore, r.get("LastModified"),
                        expires_at)

    def delete(self, key: str) -> None:
        with self._reached():
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def url(self, key: str, *, expires_s: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_key(key)}, ExpiresIn=expires_s)

    def local_path(self, key: str):
        from contextlib import contextmanager

        @contextmanager
        def download():
            suffix = PurePosixPath(key).suffix
            with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
                body = self.open(key)
                shutil.copyfileobj(body, tmp, CHUNK)
                tmp.flush()
                yield Path(tmp.name)

        return download()

    def media_source(self, key: str):
        """A presigned URL: a chunk or a single frame is read in byte ranges, never the whole object."""
        from contextlib import nullcontext

        info = self.head(key)
        if CLASS_TIERS.get(info.storage_class) == "archive" and info.restore != "restored":
            raise ObjectArchived(f"{key} is archived; restore it first.")
        return nullcontext(self.url(key, expires_s=MEDIA_URL_S))

    def set_storage_class(self, key: str, storage_class: str) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import ClientError

        # S3 changes a class only by copying the object onto itself; the managed copy switches to
        # UploadPartCopy above COPY_PART, so originals over 5 GiB move too, content type and metadata kept
        config = TransferConfig(multipart_threshold=COPY_PART, multipart_chunksize=COPY_PART, max_concurrency=2)
        try:
            with self._reached():
                self.client.copy(
                    {"Bucket": self.bucket, "Key": check_key(key)}, self.bucket, key,
                    ExtraArgs={"StorageClass": storage_class, "MetadataDirective": "COPY"}, Config=config,
                )
        except ClientError as exc:
            if self._not_found(exc):
                raise BlobNotFound(key) from exc
            # S3 cannot copy an archived object that has no restored copy: same error as the folder's
            if exc.response.get("Error", {}).get("Code") in ("ObjectNotInActiveTierError", "InvalidObjectState"):
                raise ObjectArchived(f"{key} is archived; restore it before changing its class.") from exc
            raise

    def request_restore(self, key: str, *, days: int) -> None:
        from botocore.exceptions import ClientError

        try:
            with self._reached():
                self.client.restore_object(
                    Bucket=self.bucket, Key=check_key(key),
                    RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": "Standard"}})
        except ClientError as exc:
            # a restore already in progress is not an error for us
            if exc.response.get("Error", {}).get("Code") != "RestoreAlreadyInProgress":
                raise

    def apply_lifecycle(self, *, warm_after_days: int, archive_after_days: int, highlight_expire_days: int) -> dict:
        """Bucket lifecycle: videos to IA then archive; highlights expire."""
        config = {"Rules": [
            {"ID": "sentinel-videos-tiering", "Status": "Enabled", "Filter": {"Prefix": "videos/"},
             "Transitions": [{"Days": warm_after_days, "StorageClass": "STANDARD_IA"},
                             {"Days": archive_after_days, "StorageClass": "GLACIER"}]},
            {"ID": "sentinel-highlights-expiry", "Status": "Enabled", "Filter": {"Prefix": "highlights/"},
             "Expiration": {"Days": highlight_expire_days}},
        ]}
        self.client.put_bucket_lifecycle_configuration(Bucket=self.bucket, LifecycleConfiguration=config)
        return config

    def lifecycle(self) -> dict:
        return self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)

    def check(self) -> str:
        from botocore.exceptions import ClientError

        try:
            with self._reached():
                self._probe.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if self._not_found(exc) or _code(exc) == "NoSuchBucket":
                raise BucketMissing(f"The bucket {self.bucket} does not exist; {self._mb_hint()}.") from exc
            raise
        return f"s3://{self.bucket}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")


def _code(exc) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _CountingReader:
    """Wraps a stream to count the bytes boto3 reads from it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def make_store(settings) -> BlobStore:
    """S3 when S3_BUCKET is set (its bucket created when missing and the credentials allow), else the folder.

    An unreachable S3 endpoint is logged, not raised: requests answer 503 until it is back.
    """
    if settings.s3_bucket:
        store = S3Store(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                        retries=settings.s3_retries, connect_timeout_s=settings.s3_connect_timeout_s)
        try:
            store.ensure_bucket()
        except StoreUnavailable as exc:
            log.warning("%s; requests that need it answer 503 until it is back", exc)
        return store
    return FolderStore(settings.blobs_dir)
