"""The API's JSON renderer."""

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, which never fails on the text it is given: a string that cannot be
    UTF-8 (a lone surrogate a client sent, echoed in an error) is written with \\u escapes."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return EscapedJSONRenderer().render(data, accepted_media_type, renderer_context)


class EscapedJSONRenderer(renderers.JSONRenderer):
    """Every character outside ASCII as a JSON \\u escape: always encodable, read back the same."""

    ensure_ascii = True
