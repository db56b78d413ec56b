from virtool_site.files import upload_declared_size_check, upload_limit_install


class BoundedUploadMixin:
    """Views that take multipart files: the size limit is in force before the body is read.

    `upload_max_bytes` (None: settings.UPLOAD_MAX_BYTES) bounds each request's file data.
    """

    upload_max_bytes: int | None = None

    def initialize_request(self, request, *args, **kwargs):
        if request.method in ("POST", "PUT", "PATCH"):
            upload_limit_install(request, max_bytes=self.upload_max_bytes)
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH"):
            upload_declared_size_check(request._request, max_bytes=self.upload_max_bytes)
