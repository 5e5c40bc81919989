from sqlalchemy import text

from wallet import migrate


def test_healthz(checked):
    response = checked.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_migrated(checked):
    response = checked.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["migration"] == migrate.head_revision()


def test_readyz_when_migrations_are_behind(checked, engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    response = checked.get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "not_ready"
    assert "Retry-After" in response.headers


def test_unknown_path_is_a_problem_in_the_readers_language(client):
    response = client.get("/no/such/path", headers={"Accept-Language": "kk"})
    assert response.status_code == 404
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert body["code"] == "not_found" and body["title"] == "Табылмады" and body["status"] == 404


def test_wrong_method_is_a_problem(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]
