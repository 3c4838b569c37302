"""One S3 setting for every client that reaches object storage.

The lake's `storage_options` (delta-rs's keys: AWS_ENDPOINT_URL, AWS_REGION,
AWS_ALLOW_HTTP, AWS_ACCESS_KEY_ID, ...) are read once into `S3Settings` and handed, each
in its own spelling, to delta-rs (commits and reads), pyarrow (listings, files beside the
tables, archives and byte ranges on executors) and Spark's Hadoop S3 connector
(`fs.s3a.*`). `s3a://` and `s3://` name the same objects everywhere: pyarrow only knows
`s3://`, Hadoop's open-source connector only `s3a://`, delta-rs both.

Credentials: the settings keep keys only when the options hold them (delta-rs reads them
there); what travels to executors (`public()`) never holds a key: executors find theirs in
their own environment or instance role, as every AWS client does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENDPOINT_KEYS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT", "ENDPOINT_URL", "endpoint")
REGION_KEYS = ("AWS_REGION", "AWS_DEFAULT_REGION", "region")
TRUE = ("1", "true", "yes", "on")


def normalize(uri: str) -> str:
    """`s3a://` as `s3://` (pyarrow's spelling); other locations unchanged."""
    return "s3://" + uri[len("s3a://"):] if uri.startswith("s3a://") else uri


def is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


@dataclass(frozen=True)
class S3Settings:
    endpoint: str = ""  # http(s)://host:port of an S3 API other than AWS's (MinIO, a test server)
    region: str = ""
    allow_http: bool = False
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)

    @classmethod
    def from_options(cls, options: dict | None) -> "S3Settings":
        o = {str(k): str(v) for k, v in (options or {}).items()}
        upper = {k.upper(): v for k, v in o.items()}
        endpoint = next((o[k] for k in ENDPOINT_KEYS if k in o), "") or next((upper[k] for k in ENDPOINT_KEYS if k in upper), "")
        region = next((o[k] for k in REGION_KEYS if k in o), "") or next((upper[k] for k in REGION_KEYS if k in upper), "")
        allow_http = upper.get("AWS_ALLOW_HTTP", "").lower() in TRUE or endpoint.startswith("http://")
        return cls(endpoint=endpoint, region=region, allow_http=allow_http, access_key=upper.get("AWS_ACCESS_KEY_ID", ""),
                   secret_key=upper.get("AWS_SECRET_ACCESS_KEY", ""), session_token=upper.get("AWS_SESSION_TOKEN", ""))

    def public(self) -> "S3Settings":
        """The same settings without any key: what executors get."""
        return S3Settings(self.endpoint, self.region, self.allow_http)

    def pyarrow_kwargs(self) -> dict:
        kwargs: dict = {}
        if self.endpoint:
            scheme, _, host = self.endpoint.partition("://")
            kwargs["endpoint_override"] = (host or scheme).rstrip("/")
            kwargs["scheme"] = scheme if host else ("http" if self.allow_http else "https")
        if self.region:
            kwargs["region"] = self.region
        if self.access_key and self.secret_key:
            kwargs.update(access_key=self.access_key, secret_key=self.secret_key)
            if self.session_token:
                kwargs["session_token"] = self.session_token
        return kwargs

    def hadoop_conf(self) -> dict:
        """Spark's S3A connector settings (`spark.hadoop.` prefix left off)."""
        conf: dict = {}
        if self.endpoint:
            conf["fs.s3a.endpoint"] = self.endpoint
            conf["fs.s3a.path.style.access"] = "true"  # an endpoint of one's own rarely serves virtual hosts
            conf["fs.s3a.connection.ssl.enabled"] = "false" if self.endpoint.startswith("http://") else "true"
        if self.region:
            conf["fs.s3a.endpoint.region"] = self.region
        return conf


def delta_options(options: dict | None, root: str) -> dict:
    """delta-rs storage options for a lake at `root`. On S3 each Delta version's commit file
    is written with a conditional PUT (If-None-Match: *; AWS S3 since August 2024, MinIO,
    R2): of two writers committing the same version, one gets 412 and delta-rs retries it on
    the next version. A DynamoDB locking provider or the unsafe-rename opt-out, when the
    options name one, is left as the user chose."""
    out = {str(k): str(v) for k, v in (options or {}).items()}
    chosen = {k.upper() for k in out}
    if is_s3(root) and not chosen & {"AWS_S3_LOCKING_PROVIDER", "AWS_S3_ALLOW_UNSAFE_RENAME", "CONDITIONAL_PUT",
                                      "AWS_CONDITIONAL_PUT"}:
        out["conditional_put"] = "etag"
    return out


def filesystem(uri: str, settings: S3Settings | None = None):
    """(pyarrow filesystem, path inside it) for an object-store location."""
    from pyarrow import fs  # noqa: PLC0415 - local paths never need it

    if is_s3(uri) and settings is not None and (settings.endpoint or settings.region or settings.access_key):
        return fs.S3FileSystem(**settings.pyarrow_kwargs()), uri.split("://", 1)[1]
    return fs.FileSystem.from_uri(normalize(uri))
