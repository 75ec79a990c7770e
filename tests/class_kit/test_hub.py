"""The class's JupyterHub, for real: PostgreSQL of its own, the npm proxy, learners who
log in through the login form, and their servers talking to the gateway with their keys.

One PostgreSQL, one gateway (in front of the gateway tests' lab Ollama) and one hub for
the module, on free loopback ports, under a COURSE_HOME of their own. That home is
in a folder every user may pass through (mode 0711): as root, PostgreSQL runs as the
``postgres`` user, which must reach its data folder.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests

from course_lib import services
from course_lib.class_kit import classroom, gateway, hub, keys, learner, postgres, roster, usage

from ..helpers import free_port
from ..make_lab import classkit, nginx
from .test_cli import course  # noqa: F401  (the command line, with a COURSE_HOME of its own)
from .test_gateway import MODEL  # the lab Ollama fixture (conftest) runs in this module's home

sqlalchemy = pytest.importorskip("sqlalchemy", reason="the `class` extra is not installed (pip install -e '.[class]')")
pytest.importorskip("jupyterhub", reason="the `class` extra is not installed (pip install -e '.[class]')")
pytest.importorskip("psycopg2", reason="the `class` extra is not installed (pip install -e '.[class]')")

LEARNERS = ("ada", "bob")
PASSWORD = "class-test-password"  # the dummy authenticator's: the same for everyone


@pytest.fixture(scope="module")
def home():
    """A COURSE_HOME that the postgres user may pass through; removed after."""
    parent = Path(tempfile.mkdtemp(prefix="class-hub-"))
    parent.chmod(0o711)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_HOME", str(parent / "home"))
        patch.delenv("OLLAMA_API_KEY", raising=False)
        yield parent / "home"
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(home):
    """The class's own PostgreSQL, started; stopped after."""
    classkit.require()
    started = postgres.up(postgres.Cluster(port=free_port()))
    yield started
    postgres.down()
    assert postgres.running() is None


@pytest.fixture(scope="module")
def gw(home, request):
    """The gateway in front of the lab Ollama, every learner with a key."""
    nginx.require()
    url = request.getfixturevalue("lab")
    keys.issue(roster.Learner(name) for name in LEARNERS)
    settings = gateway.up(gateway.Settings(port=free_port(), ollama_url=url, vllm_url=url, rate="20r/s", burst=20))
    yield settings
    assert gateway.down()


@pytest.fixture(scope="module")
def class_hub(home, cluster, gw):
    """The hub on that PostgreSQL, the dummy authenticator with a password; stopped
    after, and none of its processes (proxy, learners' servers) may be left."""
    settings = hub.up(hub.Settings(port=free_port(), db_url=cluster.url, gateway_url=gw.url, learners=LEARNERS,
                                   admin="teacher", authenticator="dummy",
                                   authenticator_config={"DummyAuthenticator.password": PASSWORD}))  # fmt: skip
    yield settings
    tree = services.process_tree(services.running_pid(hub.service(settings)))
    assert any("configurable-http-proxy" in " ".join(p.cmdline()) for p in tree)
    assert hub.down()
    left = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, left


def login(settings: hub.Settings, name: str, password: str = PASSWORD) -> requests.Session:
    """A browser's session: the login form, with the ``_xsrf`` it carries."""
    session = requests.Session()
    form = session.get(f"{settings.url}/hub/login", timeout=10)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    session.post(f"{settings.url}/hub/login", data={"username": name, "password": password, "_xsrf": xsrf}, timeout=60)
    return session


def wait_ready(settings: hub.Settings, name: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while hub.servers(settings).get(name) != "ready":
        assert time.monotonic() < deadline, f"{name}'s server not ready after {timeout:.0f} s: {hub.servers(settings)}"
        time.sleep(0.5)


def learner_server(settings: hub.Settings, name: str) -> requests.Session:
    """``name`` logged in, their server started and its own cookie set (the OAuth round trip)."""
    session = login(settings, name)
    wait_ready(settings, name)
    lab_page = session.get(f"{settings.url}/user/{name}/lab", timeout=30)
    assert lab_page.ok and lab_page.url.endswith(f"/user/{name}/lab"), lab_page.url
    return session


def run_in_kernel(settings: hub.Settings, name: str, session: requests.Session, cells: list[str]) -> list[str]:
    """Run ``cells`` one by one in a new kernel of ``name``'s server (Jupyter Server's REST
    API and kernel websocket, with the learner's cookies); each cell's printed output.
    A cell that raises fails the test with its traceback."""
    import websocket

    base = f"{settings.url}/user/{name}"
    xsrf = session.cookies.get("_xsrf", path=f"/user/{name}/") or session.cookies.get("_xsrf")
    kernel = session.post(f"{base}/api/kernels", json={"name": "python3"}, headers={"X-XSRFToken": xsrf}, timeout=30)
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?_xsrf={xsrf}"
    socket = websocket.create_connection(ws_url, header=[f"Cookie: {cookie}"], timeout=600)  # a cell may wait long on a busy machine
    outputs = []
    try:
        for code in cells:
            outputs.append(_execute(socket, code))
    finally:
        socket.close()
        session.delete(f"{base}/api/kernels/{kernel_id}", headers={"X-XSRFToken": xsrf}, timeout=30)
    return outputs


def _execute(socket, code: str) -> str:
    msg_id = uuid.uuid4().hex
    socket.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
                    "stop_on_error": True},
    }))  # fmt: skip
    printed = []
    while True:
        message = json.loads(socket.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id or message["channel"] != "iopub":
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            printed.append(content["text"])
        elif kind == "error":
            pytest.fail(f"cell failed in the learner's kernel:\n{code}\n" + "\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(printed)


def test_postgres_keeps_its_data_across_a_restart(cluster):
    engine = sqlalchemy.create_engine(cluster.url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE kept (word text)"))
        connection.execute(sqlalchemy.text("INSERT INTO kept VALUES ('still here')"))
    before = postgres.running()
    postgres.restart()
    assert postgres.running() == before
    with sqlalchemy.create_engine(cluster.url).connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT word FROM kept")).scalar_one() == "still here"
    assert (postgres.folder() / "password").stat().st_mode & 0o777 == 0o600
    bad = cluster.url.replace(postgres.password(), "wrong")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="password authentication failed"):
        sqlalchemy.create_engine(bad).connect()
    listening = {c.laddr for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port == cluster.port}
    assert listening == {("127.0.0.1", cluster.port)}


def test_a_learner_logs_in_and_their_server_has_the_course_and_their_key(class_hub, gw):
    session = learner_server(class_hub, "ada")
    listed = session.get(f"{class_hub.url}/user/ada/api/contents", timeout=10).json()
    names = {item["name"] for item in listed["content"]}
    assert {"notebooks", "exercises"} <= names, names
    lesson = session.get(f"{class_hub.url}/user/ada/api/contents/notebooks", timeout=10).json()
    assert any(item["name"].startswith("02_") for item in lesson["content"])
    printed = run_in_kernel(class_hub, "ada", session, [
        "import json, os; print(json.dumps({k: os.environ.get(k) for k in ('COURSE_SERVER', 'COURSE_KEY', 'COURSE_HOME')}))",
    ])  # fmt: skip
    seen = json.loads(printed[0])
    assert seen["COURSE_SERVER"] == gw.url
    assert seen["COURSE_KEY"] == keys.load()["ada"]["key"] != keys.load()["bob"]["key"]
    assert seen["COURSE_HOME"] == str(learner.home("ada") / ".course")


def test_a_learner_in_their_kernel_chats_through_the_gateway_with_their_key(class_hub, gw):
    session = learner_server(class_hub, "bob")
    printed = run_in_kernel(class_hub, "bob", session, [
        "from course_lib.lesson import connect\nimport requests\nengines = connect()",
        f"reply = requests.post(engines.ollama_url + '/api/chat', timeout=120, json={{\n"  # no header: the course adds the key
        f"    'model': {MODEL!r}, 'stream': False, 'messages': [{{'role': 'user', 'content': 'Hi'}}], 'options': {{'num_predict': 3}}}})\n"
        "reply.raise_for_status(); print(reply.json()['message']['role'], reply.json()['eval_count'])",
    ])  # fmt: skip
    assert f"at {gw.url}" in printed[0], printed[0]  # connect() names the class server it uses
    role, count = printed[1].split()
    assert role == "assistant" and int(count) >= 1
    logged = [entry for entry in _gateway_log() if entry["uri"] == "/ollama/api/chat"]  # OLLAMA is the gateway's /ollama
    assert logged and logged[-1]["learner"] == "bob" and logged[-1]["status"] == 200


def test_lesson_02_runs_in_a_learners_kernel_through_the_gateway(class_hub, gw):
    """The issue's goal: lesson 02, the learner's own copy, every code cell run in their
    kernel; its requests reach the engine through the gateway, counted under their name."""
    session = learner_server(class_hub, "ada")
    path = "notebooks/02_ollama_rest_api.ipynb"
    notebook = session.get(f"{class_hub.url}/user/ada/api/contents/{path}", timeout=30).json()["content"]
    cells = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    before = usage.per_learner().get("ada", usage.Usage()).requests
    printed = run_in_kernel(class_hub, "ada", session, cells)
    assert f"at {gw.url}" in printed[0], printed[0]  # connect() names the class server it uses
    found = usage.per_learner()["ada"]
    assert found.requests - before >= len(cells) - 4 and found.unauthorized == 0, (before, found)


def _gateway_log() -> list[dict]:
    deadline = time.monotonic() + 10
    while not (found := list(usage.entries())) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_a_name_not_on_the_roster_cannot_log_in(class_hub):
    session = login(class_hub, "zed")
    assert "/hub/login" in session.get(f"{class_hub.url}/hub/home", timeout=10).url
    assert hub.api(class_hub, "/users/zed").status_code == 404
    wrong = login(class_hub, "ada", "not-the-password")
    assert "/hub/login" in wrong.get(f"{class_hub.url}/hub/home", timeout=10).url


def test_the_hub_recovers_from_a_postgres_restart(class_hub, gw):
    """PostgreSQL restarted while the class works: the hub answers again within seconds,
    the learner's server and files survive, and the gateway (which needs no database)
    answers every learner request sent meanwhile."""
    session = learner_server(class_hub, "ada")
    xsrf = session.cookies.get("_xsrf", path="/user/ada/") or session.cookies.get("_xsrf")
    note = {"type": "file", "format": "text", "content": "before the restart"}
    saved = session.put(f"{class_hub.url}/user/ada/api/contents/note.txt", json=note, headers={"X-XSRFToken": xsrf}, timeout=10)
    assert saved.status_code in (200, 201), saved.text
    hub_pid = services.running_pid(hub.service(class_hub))
    meanwhile, stop = [], threading.Event()

    def learner_requests() -> None:  # as a notebook's cells keep calling the engine
        key = {"Authorization": f"Bearer {keys.load()['bob']['key']}"}
        while not stop.is_set():
            meanwhile.append(requests.get(f"{gw.url}/api/tags", headers=key, timeout=10).status_code)
            time.sleep(0.1)

    worker = threading.Thread(target=learner_requests)
    worker.start()
    try:
        postgres.restart()
        started, failed = time.monotonic(), []
        # The hub's session holds a connection across requests: the first request after the
        # restart finds it dead (403: the token lookup failed), the hub rolls back, then answers.
        while (answer := hub.api(class_hub, "/users")).status_code != 200:
            failed.append(answer.status_code)
            assert time.monotonic() - started < 20, f"hub API still failing 20 s after PostgreSQL restarted: {failed}"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join()
    assert len(meanwhile) >= 3 and set(meanwhile) == {200}, meanwhile
    assert len(failed) <= 2, failed
    assert services.running_pid(hub.service(class_hub)) == hub_pid
    assert hub.servers(class_hub).get("ada") == "ready"
    lines = classroom.status()  # what `course class status` prints
    assert f"hub       {class_hub.url}" in "\n".join(lines) and "          ada: ready" in lines, lines
    again = session.get(f"{class_hub.url}/user/ada/api/contents/note.txt", timeout=10)
    assert again.ok and again.json()["content"] == "before the restart"
    fresh = login(class_hub, "bob")  # a new login writes to the database
    assert fresh.get(f"{class_hub.url}/hub/api/user", timeout=10).json()["name"] == "bob"


def test_the_default_authenticator_lets_roster_learners_sign_up_and_no_one_else(class_hub):
    """NativeAuthenticator, as `course class up` starts the hub: a learner signs up with a
    password of their own, then logs in; a name off the roster may sign up but never log in."""
    assert hub.down()
    native = hub.up(dataclasses.replace(class_hub, authenticator="native", authenticator_config={}))
    for name, admitted in (("bob", True), ("zed", False)):
        session = requests.Session()
        form = session.get(f"{native.url}/hub/signup", timeout=10)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
        session.post(f"{native.url}/hub/signup", timeout=30, data={
            "username": name, "signup_password": "bobs-own-secret-1", "signup_password_confirmation": "bobs-own-secret-1",
            "_xsrf": xsrf})  # fmt: skip
        logged_in = login(native, name, "bobs-own-secret-1")
        user = logged_in.get(f"{native.url}/hub/home", timeout=30)
        assert ("/hub/login" not in user.url) is admitted, (name, user.url)
    assert "/hub/login" in login(native, "bob", "not-bobs-password").get(f"{native.url}/hub/home", timeout=10).url


def test_class_up_with_a_malformed_roster_starts_nothing(course, tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("learner\nada\nAda Lovelace\n")
    done = course("up", "--roster", str(roster_file))
    assert done.exit_code == 1 and "line 3: 'Ada Lovelace' is not a valid learner name" in done.output
    assert "Traceback" not in done.output and not (tmp_path / "home" / "class").exists()


def test_class_up_on_a_port_in_use_says_so_and_starts_nothing(course, tmp_path):
    classkit.require()
    nginx.require()
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("learner\nada\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = course("up", "--roster", str(roster_file), "--port", str(port), "--gateway-port", str(free_port()),
                      "--db-port", str(free_port()))  # fmt: skip
    assert done.exit_code == 1 and f"port {port} on 127.0.0.1 is already in use" in done.output, done.output
    assert "Traceback" not in done.output
    status = course("status")
    assert status.exit_code == 0 and "hub       not running" in status.output and "postgres  not running" in status.output
    assert "gateway   not running" in status.output
