"""Network probe run inside a sandbox: each check in the JSON plan (argv[1]) prints one JSON line."""
import errno, json, os, socket, ssl, sys

PROXY = os.environ.get("HTTP_PROXY", "")


def proxy_addr():
    hostport = PROXY.split("//", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if getattr(e, "errno", None) else type(e).__name__


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    return status, headers, data


def exchange(addr, request, timeout):
    """Sends one HTTP request on a fresh connection; returns status, headers and the whole body."""
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(request.encode())
    status, headers, data = read_head(s)
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    s.close()
    return status, headers, body.decode("latin-1")[:200]


def http(check):
    """Absolute-form request through the proxy with full control of the Host header."""
    req = f"{check.get('method', 'GET')} {check['url']} HTTP/1.1\r\nHost: {check.get('host_header')}\r\nConnection: close\r\n\r\n"
    status, headers, body = exchange(proxy_addr(), req, 10)
    return {"status": status, "reason": headers.get("x-airlock-deny-reason"), "body": body}


def direct_http(check):
    """A plain GET straight to host:port (no proxy): what full mode's NAT carries."""
    req = f"GET / HTTP/1.1\r\nHost: {check['host']}\r\nConnection: close\r\n\r\n"
    status, _, body = exchange((check["host"], check["port"]), req, 5)
    return {"status": status, "body": body}


def connect_tls(check):
    s = socket.create_connection(proxy_addr(), timeout=10)
    s.sendall(f"CONNECT {check['target']} HTTP/1.1\r\nHost: {check['target']}\r\n\r\n".encode())
    status, headers, _ = read_head(s)
    if status != 200:
        return {"status": status, "reason": headers.get("x-airlock-deny-reason")}
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        tls = ctx.wrap_socket(s, server_hostname=check.get("sni"))
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = tls.recv(64).decode("latin-1")
        return {"status": 200, "handshake": "ok", "answer": answer[:12]}
    except Exception as e:
        return {"status": 200, "handshake": "failed", "error": type(e).__name__}


def tcp(check):
    s = socket.socket(socket.AF_INET6 if ":" in check["host"] else socket.AF_INET)
    s.settimeout(check.get("timeout", 1))
    try:
        s.connect((check["host"], check["port"]))
        return {"connected": True}
    except socket.timeout:
        return {"connected": False, "error": "timeout"}
    except OSError as e:
        return {"connected": False, "error": err_name(e)}
    finally:
        s.close()


def dns(check):
    try:
        socket.getaddrinfo(check["name"], 80)
        return {"resolved": True}
    except OSError as e:
        return {"resolved": False, "error": str(e)[:80]}


def open_socket(family, kind, proto=0):
    try:
        socket.socket(family, kind, proto).close()
        return {"opened": True}
    except OSError as e:
        return {"opened": False, "error": err_name(e)}


def main():
    for check in json.loads(sys.argv[1]):
        op = check["op"]
        try:
            if op == "http":
                result = http(check)
            elif op == "direct_http":
                result = direct_http(check)
            elif op == "connect_tls":
                result = connect_tls(check)
            elif op == "tcp":
                result = tcp(check)
            elif op == "dns":
                result = dns(check)
            elif op == "raw":
                result = open_socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            elif op == "packet":
                result = open_socket(socket.AF_PACKET, socket.SOCK_RAW)
            elif op == "links":
                result = {"links": sorted(name for _, name in socket.if_nameindex())}
            elif op == "resolv":
                with open("/etc/resolv.conf") as f:
                    content = f.read()
                try:
                    open("/etc/resolv.conf", "a").close()
                    writable = True
                except OSError:
                    writable = False
                result = {"content": content, "writable": writable}
            elif op == "env":
                result = {"proxy": PROXY}
            else:
                result = {"error": "unknown op"}
        except Exception as e:
            result = {"error": f"{type(e).__name__}: {e}"[:200]}
        print(json.dumps({"id": check.get("id", op), **result}), flush=True)


main()
