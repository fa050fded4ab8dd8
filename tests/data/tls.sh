# tls.sh: a TLS terminator in front of the simulator, for the TLS test
# (tests/integration/59_tls.sh) and the TLS benchmark (bench/tls.sh), so
# both measure the same thing.  POSIX sh, sourced.  The simulator speaks
# plain HTTP; stunnel (Debian stunnel4) terminates TLS in front of it and
# logs, at debug level info, every handshake as "new session negotiated"
# (full) or "previous session reused" (resumed): the observable that
# tells whether the worker resumes TLS sessions on fresh connections.
#
#   tls_have                      0 when stunnel and openssl are installed
#   tls_certs DIR                 throwaway CA (ca.pem), a server certificate
#                                 for 127.0.0.1 signed by it (srv.pem,
#                                 srv.key) and another CA (other-ca.pem)
#   tls_start DIR BACKEND_PORT    stunnel on a free loopback port in front of
#                                 127.0.0.1:BACKEND_PORT; sets TLS_PORT,
#                                 TLS_PID, TLS_URL, TLS_LOG; 1 on failure
#   tls_stop                      stop it
#   tls_counts                    "connections full resumed" in TLS_LOG so far

tls_have() {
	TLS_STUNNEL=$(command -v stunnel4 2>/dev/null || command -v stunnel 2>/dev/null)
	[ -n "$TLS_STUNNEL" ] && command -v openssl >/dev/null 2>&1
}

# P-256 keys: quick to make, and the handshake cost the benchmark measures
# is that of the curve a real API commonly serves.
tls_certs() {
	_d=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 2 -subj /CN=callsync-test-ca -keyout "$_d/ca.key" \
	    -out "$_d/ca.pem" >"$_d/openssl.log" 2>&1 &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 2 -subj /CN=callsync-other-ca -keyout "$_d/other-ca.key" \
	    -out "$_d/other-ca.pem" >>"$_d/openssl.log" 2>&1 &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj /CN=127.0.0.1 -keyout "$_d/srv.key" -out "$_d/srv.csr" \
	    >>"$_d/openssl.log" 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$_d/srv.ext" &&
	openssl x509 -req -in "$_d/srv.csr" -CA "$_d/ca.pem" \
	    -CAkey "$_d/ca.key" -CAcreateserial -days 2 -extfile "$_d/srv.ext" \
	    -out "$_d/srv.pem" >>"$_d/openssl.log" 2>&1 &&
	openssl verify -CAfile "$_d/ca.pem" "$_d/srv.pem" >>"$_d/openssl.log" 2>&1 || {
		echo "# tls_certs failed:"; sed 's/^/# /' "$_d/openssl.log"
		return 1
	}
}

# tls_listening PORT: something listens on 127.0.0.1:PORT (from the
# kernel's table: a test connection would count as a handshake).
tls_listening() {
	grep -q "^ *[0-9]*: 0100007F:$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp
}

# A port below the kernel's ephemeral range (as lib.sh's rport), retried
# when taken: stunnel cannot bind port 0 and tell which port it got.
tls_start() {
	_d=$1 _bp=$2
	TLS_LOG=$_d/stunnel.log
	_tries=0
	while [ $_tries -lt 10 ]; do
		_tries=$((_tries + 1))
		TLS_PORT=$((10000 + $(od -An -N2 -tu2 /dev/urandom) % 22000))
		cat >"$_d/stunnel.conf" <<EOF
foreground = yes
pid =
syslog = no
debug = info
output = $TLS_LOG
[api]
accept = 127.0.0.1:$TLS_PORT
connect = 127.0.0.1:$_bp
cert = $_d/srv.pem
key = $_d/srv.key
EOF
		: >"$TLS_LOG"
		"$TLS_STUNNEL" "$_d/stunnel.conf" >"$_d/stunnel.err" 2>&1 &
		TLS_PID=$!
		_i=0
		while [ $_i -lt 100 ] && kill -0 "$TLS_PID" 2>/dev/null; do
			if tls_listening "$TLS_PORT"; then
				PIDS="$PIDS $TLS_PID"
				TLS_URL="https://127.0.0.1:$TLS_PORT"
				return 0
			fi
			_i=$((_i + 1)); sleep 0.1
		done
		kill "$TLS_PID" 2>/dev/null; wait "$TLS_PID" 2>/dev/null
		grep -qi "bind" "$TLS_LOG" || break
	done
	echo "# stunnel did not start:"; tail -5 "$TLS_LOG" | sed 's/^/# /'
	return 1
}
tls_stop() { kill "$TLS_PID" 2>/dev/null; wait "$TLS_PID" 2>/dev/null; }

tls_counts() {
	printf '%s %s %s\n' "$(grep -c 'accepted connection from' "$TLS_LOG")" \
	    "$(grep -c 'TLS accepted: new session negotiated' "$TLS_LOG")" \
	    "$(grep -c 'TLS accepted: previous session reused' "$TLS_LOG")"
}
