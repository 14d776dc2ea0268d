# Shared by the benchmark scripts (source it): free loopback ports, bounded
# waits, and nginx `return 200` as a child process (never the system service).
# Needs $TMP (a scratch directory the caller removes).

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until 127.0.0.1:$1 accepts a connection.
wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $1 never opened" >&2
  return 1
}

# Starts nginx (one worker) answering 200 "ok" on a free port; sets
# NGINX_PORT and NGINX_PID.
start_nginx_return200() {
  NGINX_PORT=$(free_port)
  mkdir -p "$TMP/nginx"
  cat >"$TMP/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $TMP/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx; proxy_temp_path $TMP/nginx; fastcgi_temp_path $TMP/nginx;
  uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; location / { return 200 "ok"; } }
}
CONF
  nginx -p "$TMP" -c "$TMP/nginx.conf" &
  NGINX_PID=$!
  wait_port "$NGINX_PORT"
}
