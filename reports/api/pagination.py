"""Pages of the report list: ?page=N, N from 1; anything else is a 400 that says so."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class ReportPagination(PageNumberPagination):
    invalid_page_message = "Page {page_number} does not exist: the reports fill fewer pages (start at 1, follow next)."
    last_page_strings = ()  # only numbers: the schema says page is an integer

    def get_page_number(self, request, paginator):
        text = request.query_params.get(self.page_query_param)
        if text is None:
            return 1
        if not (text.isascii() and text.isdigit() and int(text) >= 1):
            raise ValidationError({self.page_query_param: [f"{text[:40]!r} is not a page number: use 1, 2, 3, …"]})
        return int(text)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
