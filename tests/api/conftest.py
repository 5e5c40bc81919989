import pytest
from werkzeug.test import EnvironBuilder

from tests.api.contract import assert_conforms


@pytest.fixture
def checked(client):
    """A test client whose every response is checked against openapi.yaml before the test sees it."""

    class Checked:
        def open(self, *args, **kwargs):
            request = EnvironBuilder(*args, **kwargs).get_request()
            response = client.open(*args, **kwargs)
            assert_conforms(response, request)
            return response

        def get(self, *args, **kwargs):
            return self.open(*args, method="GET", **kwargs)

        def post(self, *args, **kwargs):
            return self.open(*args, method="POST", **kwargs)

        def put(self, *args, **kwargs):
            return self.open(*args, method="PUT", **kwargs)

        def delete(self, *args, **kwargs):
            return self.open(*args, method="DELETE", **kwargs)

    return Checked()
