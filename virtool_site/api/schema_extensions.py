"""OpenAPI security schemes for the API key and job key authentications."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "virtool_site.api.authentication.ApiKeyAuthentication"
    name = ["bearerApiKey", "basicApiKey"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <api key>`"},
            {"type": "http", "scheme": "basic", "description": "`Authorization: Basic base64(username:api key)`"},
        ]


class JobAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "virtool_site.api.authentication.JobAuthentication"
    name = "jobKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": '`Authorization: Basic base64("job-{id}:{key}")`'}
