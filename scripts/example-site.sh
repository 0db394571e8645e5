# Sourced by scripts/python-example.sh and scripts/frameworks.sh: the small site
# their clients drive (an article, and a form whose button writes "Hi <name>"
# into the title), served on 127.0.0.1, and the helpers to start it.

# A loopback port nobody listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Writes article.html and form.html into DIR.
write_example_site() {
    mkdir -p "$1"
    cat > "$1/article.html" <<'HTML'
<!doctype html><title>Example article</title>
<nav>Home | About</nav>
<article><h1>Browsers on small farms</h1>
<p>A Raspberry Pi can run a headless Chromium and serve pages to an agent.</p></article>
HTML
    cat > "$1/form.html" <<'HTML'
<!doctype html><title>Sign up</title><h1>Sign up</h1><input id="name">
<button id="go" onclick="document.title = 'Hi ' + document.getElementById('name').value">Go</button>
HTML
}

# Waits (up to 10 s each) until something accepts connections on each PORT.
wait_for_ports() {
    local port
    for port in "$@"; do
        for _ in $(seq 100); do
            if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
            sleep 0.1
        done
    done
}
