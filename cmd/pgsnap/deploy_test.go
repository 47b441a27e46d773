package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/httpapi"
)

// The files under deploy/ work as written: every variable they set is a pgsnap setting and
// loads, every pgsnap command line they run parses, the S3-only examples get no local
// directory (the image's ENV included), whatever listens beyond loopback has auth, read-only
// containers have somewhere to write, the Compose healthcheck tells a live daemon from a dead
// one, and every metric the alert rules use is served at /metrics with the labels they group by.
func TestDeployFiles(t *testing.T) {
	const root = "../../deploy"
	// Examples that keep snapshots in S3 only: no SNAPSHOT_DIR may reach them.
	s3Only := map[string]bool{"kubernetes/sidecar-deployment.yaml": true, "kubernetes/cronjob.yaml": true}

	image := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	var runs []deployRun
	var rules []alertRule
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		switch ext := path.Ext(rel); {
		case rel == "Dockerfile":
			runs = append(runs, image.runs()...)
		case ext == ".yaml" || ext == ".yml":
			r, a := parseYAMLFile(t, p, rel, image)
			runs, rules = append(runs, r...), append(rules, a...)
		case ext == ".service" || ext == ".timer":
			runs = append(runs, parseUnit(t, p, rel)...)
		case ext == ".md":
			// prose
		default:
			t.Errorf("deploy/%s: no check knows this kind of file", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f := range s3Only {
		if !seen[f] {
			t.Errorf("deploy/%s is gone: update the S3-only list", f)
		}
	}
	if len(runs) < 6 || len(rules) == 0 {
		t.Fatalf("found %d pgsnap runs and %d alert rules under deploy/: the parsers missed some", len(runs), len(rules))
	}

	known := map[string]bool{"SNAPSHOT_RESTORE_URL": true} // restore's own, as unknownSettings knows
	for _, s := range append(pgsnap.Settings(), cliSettings...) {
		known[s.Env] = true
	}
	for _, r := range runs {
		t.Run(r.where, func(t *testing.T) {
			env := map[string]deployEnv{}
			if r.image {
				for _, kv := range image.env {
					env[kv.name] = kv
				}
			}
			for _, kv := range r.env {
				if !known[kv.name] {
					t.Errorf("sets %s, which pgsnap does not know", kv.name)
				}
				env[kv.name] = kv
			}
			cmd := r.args
			if len(cmd) > 0 {
				if err := checkPgsnapInvocation(cmd); err != nil {
					t.Errorf("runs pgsnap %s: %v", strings.Join(cmd, " "), err)
				}
			}
			cfg, err := pgsnap.LoadConfig(r.lookup(t, env))
			if err != nil {
				t.Fatalf("its settings do not load: %v", err)
			}
			if s3Only[r.file] {
				if cfg.Dir != "" || cfg.S3.URL == "" {
					t.Errorf("S3-only example: SNAPSHOT_DIR %q, SNAPSHOT_S3_URL %q; want no directory and a bucket", cfg.Dir, cfg.S3.URL)
				}
			}
			daemon := len(cmd) > 0 && cmd[0] == "run"
			if daemon && cfg.HTTPAddr != pgsnap.HTTPOff {
				host, _, _ := net.SplitHostPort(cfg.HTTPAddr)
				ip := net.ParseIP(host)
				basic := cfg.HTTPUser != "" && cfg.HTTPPassword != ""
				if (ip == nil || !ip.IsLoopback()) && host != "localhost" && cfg.HTTPToken == "" && !basic {
					t.Errorf("serves on %s without SNAPSHOT_HTTP_TOKEN or SNAPSHOT_HTTP_USER/PASSWORD", cfg.HTTPAddr)
				}
			}
			if r.readOnlyRoot {
				dir := cfg.Dir
				if dir == "" && cfg.S3.URL == "" {
					dir = "/snapshots" // pgsnap's default when no other destination is set
				}
				tmp := cfg.TempDir
				if tmp == "" {
					tmp = "/tmp"
				}
				for _, d := range []string{dir, tmp} {
					if d != "" && !r.writable(d) {
						t.Errorf("read-only root filesystem, and no writable volume at %s for pgsnap", d)
					}
				}
			}
			if r.healthcheck != nil {
				checkHealthcheck(t, r.healthcheck, cfg.HTTPAddr)
			}
		})
	}
	t.Run("alert rules", func(t *testing.T) { checkAlertRules(t, rules) })
}

// deployRun is one place in deploy/ that runs pgsnap: its environment and command line.
type deployRun struct {
	file, where  string
	image        bool        // runs the image of deploy/Dockerfile: its ENV lies underneath
	env          []deployEnv // in the file's order
	args         []string    // pgsnap's arguments
	readOnlyRoot bool
	kube         bool          // a Kubernetes container: files come from its mounts
	mounts       []volumeMount // Kubernetes volume mounts
	credentials  []string      // systemd LoadCredential names
	healthcheck  []string      // Compose healthcheck test
}

type deployEnv struct {
	name, value string
	secret      bool // from a Secret or the operator: only its form is known
}

type volumeMount struct {
	path     string
	readOnly bool
}

func (r deployRun) writable(dir string) bool {
	for _, m := range r.mounts {
		if !m.readOnly && (dir == m.path || strings.HasPrefix(dir, strings.TrimSuffix(m.path, "/")+"/")) {
			return true
		}
	}
	return false
}

func (r deployRun) mounted(file string) bool {
	for _, m := range r.mounts {
		if strings.HasPrefix(file, strings.TrimSuffix(m.path, "/")+"/") {
			return true
		}
	}
	return false
}

// deployStandIn is a value of the accepted form for a setting whose real value deploy/ does not hold
// (a Secret, a credential file, a variable the operator exports).
func deployStandIn(env string) string {
	switch env {
	case "DATABASE_URL", "SNAPSHOT_DRILL_URL", "SNAPSHOT_RESTORE_URL":
		return "postgres://backup:secret@db.example:5432/app"
	case "SNAPSHOT_PING_URL", "SNAPSHOT_WEBHOOK_URL":
		return "https://hooks.example.com/pgsnap"
	case "SNAPSHOT_AGE_RECIPIENTS":
		return "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	}
	return "stand-in-secret"
}

// lookup gives LoadConfig env, with stand-ins for secrets and a real file of the right form
// for every *_FILE setting whose path the example provides (a mounted Secret, a systemd
// credential).
func (r deployRun) lookup(t *testing.T, env map[string]deployEnv) func(string) (string, bool) {
	t.Helper()
	files := t.TempDir()
	vals := map[string]string{}
	for name, kv := range env {
		v := kv.value
		if kv.secret {
			v = deployStandIn(name)
		}
		if of, ok := strings.CutSuffix(name, "_FILE"); ok && !kv.secret {
			switch {
			case r.kube && !r.mounted(v):
				t.Errorf("%s=%s: no volume is mounted there", name, v)
			case len(r.credentials) > 0 && strings.HasPrefix(v, systemdCredentialsDir+"/"):
				if c := strings.TrimPrefix(v, systemdCredentialsDir+"/"); !slices.Contains(r.credentials, c) {
					t.Errorf("%s=%s: no LoadCredential=%s", name, v, c)
				}
			}
			v = filepath.Join(files, name)
			if err := os.WriteFile(v, []byte(deployStandIn(of)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		vals[name] = v
	}
	return func(name string) (string, bool) {
		v, ok := vals[name]
		return v, ok
	}
}

// checkPgsnapInvocation asks the built pgsnap whether args name a command and flags it has: --help
// after them parses every flag (an unknown one is a usage error) and prints the command's usage.
func checkPgsnapInvocation(args []string) error {
	var path []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		path = append(path, a)
	}
	if len(path) == 0 {
		return errors.New("no command")
	}
	cmd := exec.Command(pgsnapBin, append(slices.Clone(args), "--help")...)
	cmd.Env = baseEnv()
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return err
	}
	usage := "Usage:\n  pgsnap " + strings.Join(path, " ") + " "
	if !strings.Contains(string(out), usage) {
		return fmt.Errorf("pgsnap has no command %q:\n%s", strings.Join(path, " "), out)
	}
	return nil
}

// --- Dockerfile ---

type dockerImage struct {
	env         []deployEnv
	entrypoint  []string
	cmd         []string
	healthcheck []string
}

// parseDockerfile reads the final stage's ARG, ENV, ENTRYPOINT, CMD and HEALTHCHECK.
func parseDockerfile(t *testing.T, p string) dockerImage {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var instrs []string
	var cur strings.Builder
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		instrs = append(instrs, cur.String())
		cur.Reset()
	}
	var d dockerImage
	args := map[string]string{}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string {
			for _, e := range d.env {
				if e.name == k {
					return e.value
				}
			}
			return args[k]
		})
	}
	for _, in := range instrs {
		word, rest, _ := strings.Cut(in, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "FROM":
			d, args = dockerImage{}, map[string]string{} // a new stage
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case "ENV":
			for _, kv := range splitDeployWords(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile: ENV %s: only the key=value form is read here", rest)
				}
				d.env = append(d.env, deployEnv{name: k, value: expand(v)})
			}
		case "ENTRYPOINT":
			d.entrypoint = dockerExecForm(t, rest)
		case "CMD":
			d.cmd = dockerExecForm(t, rest)
		case "HEALTHCHECK":
			if _, c, ok := strings.Cut(rest, "CMD "); ok && !strings.EqualFold(rest, "NONE") {
				d.healthcheck = dockerExecForm(t, c)
			}
		}
	}
	if len(d.entrypoint) == 0 || path.Base(d.entrypoint[0]) != "pgsnap" {
		t.Fatalf("Dockerfile: ENTRYPOINT %q, want pgsnap", d.entrypoint)
	}
	return d
}

func dockerExecForm(t *testing.T, s string) []string {
	var v []string
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("Dockerfile: %s: %v", s, err)
		}
		return v
	}
	return []string{"/bin/sh", "-c", s}
}

// runs are the image run as it is: its ENV, ENTRYPOINT and CMD, and its HEALTHCHECK.
func (d dockerImage) runs() []deployRun {
	r := deployRun{file: "Dockerfile", where: "Dockerfile", env: d.env, args: append(slices.Clone(d.entrypoint[1:]), d.cmd...)}
	switch {
	case len(d.healthcheck) == 0:
	case path.Base(d.healthcheck[0]) == "pgsnap":
		return []deployRun{r, {file: "Dockerfile", where: "Dockerfile HEALTHCHECK", env: d.env, args: d.healthcheck[1:]}}
	default:
		r.healthcheck = d.healthcheck
	}
	return []deployRun{r}
}

// splitDeployWords splits s at spaces outside double quotes, removing the quotes.
func splitDeployWords(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, word := false, false // word: a quoted "" counts as one
	for _, c := range s {
		switch {
		case c == '"':
			quoted, word = !quoted, true
		case c == ' ' && !quoted:
			if word || cur.Len() > 0 {
				out = append(out, cur.String())
			}
			cur.Reset()
			word = false
		default:
			cur.WriteRune(c)
		}
	}
	if word || cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// --- YAML: Compose, Kubernetes, Prometheus ---

type alertRule struct {
	name, expr string
}

func parseYAMLFile(t *testing.T, p, rel string, image dockerImage) ([]deployRun, []alertRule) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []deployRun
	var rules []alertRule
	var endpoints []any // of ServiceMonitors
	dec := yaml.NewDecoder(f)
	for i := 0; ; i++ {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("deploy/%s: document %d: %v", rel, i+1, err)
		}
		switch {
		case doc["services"] != nil:
			runs = append(runs, composeRuns(t, rel, doc, image)...)
		case doc["groups"] != nil:
			for _, g := range yList(doc["groups"]) {
				for _, r := range yList(yDict(g)["rules"]) {
					rm := yDict(r)
					rules = append(rules, alertRule{name: yStr(rm["alert"]), expr: yStr(rm["expr"])})
				}
			}
		case doc["kind"] == "ServiceMonitor":
			endpoints = append(endpoints, yList(yDict(doc["spec"])["endpoints"])...)
		case doc["kind"] != nil:
			runs = append(runs, kubernetesRuns(t, rel, doc, image)...)
		default:
			t.Errorf("deploy/%s: document %d is neither Compose, Kubernetes nor Prometheus rules", rel, i+1)
		}
	}
	// A pgsnap that wants a token or a password gets one from the file's ServiceMonitors.
	auth := false
	for _, r := range runs {
		for _, e := range r.env {
			auth = auth || e.name == "SNAPSHOT_HTTP_TOKEN" || e.name == "SNAPSHOT_HTTP_PASSWORD"
		}
	}
	for _, e := range endpoints {
		em := yDict(e)
		if auth && em["authorization"] == nil && em["bearerTokenSecret"] == nil && em["basicAuth"] == nil {
			t.Errorf("deploy/%s: ServiceMonitor endpoint %v scrapes an authenticated pgsnap without credentials", rel, em["port"])
		}
	}
	return runs, rules
}

func yDict(v any) map[string]any { m, _ := v.(map[string]any); return m }
func yList(v any) []any          { l, _ := v.([]any); return l }
func yStr(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func yStrs(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = yStr(x)
		}
		return out
	}
	return nil
}

func composeRuns(t *testing.T, rel string, doc map[string]any, image dockerImage) []deployRun {
	var runs []deployRun
	for name, s := range yDict(doc["services"]) {
		svc := yDict(s)
		build := yDict(svc["build"])
		if !strings.HasSuffix(yStr(build["dockerfile"]), "deploy/Dockerfile") && !strings.HasPrefix(yStr(svc["image"]), "pgsnap") {
			continue // not pgsnap
		}
		r := deployRun{file: rel, where: rel + " " + name, image: true, args: image.cmd}
		if c := yStrs(svc["command"]); c != nil {
			r.args = c
		}
		switch e := svc["environment"].(type) {
		case map[string]any:
			for k, v := range e {
				r.env = append(r.env, composeValue(k, yStr(v)))
			}
		case []any:
			for _, kv := range e {
				k, v, _ := strings.Cut(yStr(kv), "=")
				r.env = append(r.env, composeValue(k, v))
			}
		}
		if hc := yDict(svc["healthcheck"]); hc != nil {
			test := yStrs(hc["test"])
			switch {
			case len(test) > 0 && test[0] == "CMD":
				r.healthcheck = test[1:]
			case len(test) > 1 && test[0] == "CMD-SHELL":
				r.healthcheck = []string{"/bin/sh", "-c", test[1]}
			default:
				t.Errorf("deploy/%s: healthcheck test %q", rel, test)
			}
			for i, a := range r.healthcheck {
				r.healthcheck[i] = strings.ReplaceAll(a, "$$", "$")
			}
		}
		runs = append(runs, r)
	}
	return runs
}

var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// composeValue interpolates a Compose value as `docker compose` would with none of its
// variables exported: ${X:-default} is the default, a required ${X:?message} is a stand-in.
func composeValue(name, v string) deployEnv {
	whole := false
	out := composeVar.ReplaceAllStringFunc(v, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeVar.FindStringSubmatch(m)
		if op := sub[2]; strings.HasSuffix(op, "-") {
			return sub[3]
		}
		whole = m == v
		return "standin"
	})
	if whole {
		return deployEnv{name: name, secret: true}
	}
	return deployEnv{name: name, value: out}
}

func kubernetesRuns(t *testing.T, rel string, doc map[string]any, image dockerImage) []deployRun {
	var runs []deployRun
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "containers" || k == "initContainers" {
					for _, c := range yList(x) {
						if r, ok := kubernetesContainer(t, rel, yDict(c), image); ok {
							runs = append(runs, r)
						}
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return runs
}

func kubernetesContainer(t *testing.T, rel string, c map[string]any, image dockerImage) (deployRun, bool) {
	if !strings.Contains(yStr(c["image"]), "pgsnap") {
		return deployRun{}, false
	}
	r := deployRun{file: rel, where: rel + " " + yStr(c["name"]), image: true, kube: true}
	command, args := yStrs(c["command"]), yStrs(c["args"])
	switch {
	case command != nil:
		if path.Base(command[0]) != "pgsnap" {
			t.Errorf("deploy/%s: container %s runs %s, not pgsnap", rel, yStr(c["name"]), command[0])
		}
		r.args = append(command[1:], args...)
	case args != nil:
		r.args = args
	default:
		r.args = image.cmd
	}
	for _, e := range yList(c["env"]) {
		em := yDict(e)
		kv := deployEnv{name: yStr(em["name"]), value: yStr(em["value"])}
		if em["valueFrom"] != nil {
			kv.secret = true
		}
		r.env = append(r.env, kv)
	}
	for _, m := range yList(c["volumeMounts"]) {
		mm := yDict(m)
		r.mounts = append(r.mounts, volumeMount{path: yStr(mm["mountPath"]), readOnly: mm["readOnly"] == true})
	}
	r.readOnlyRoot = yDict(c["securityContext"])["readOnlyRootFilesystem"] == true
	return r, true
}

// --- systemd ---

// systemdCredentialsDir stands for systemd's %d, the service's credentials directory.
const systemdCredentialsDir = "/run/credentials/pgsnap.service"

func parseUnit(t *testing.T, p, rel string) []deployRun {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := deployRun{file: rel, where: rel}
	section := ""
	hasExec, timerUnit := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		spec := strings.NewReplacer("%d", systemdCredentialsDir, "%%", "%")
		if strings.ContainsRune(strings.NewReplacer("%d", "", "%%", "").Replace(v), '%') {
			t.Errorf("deploy/%s: %s: a systemd specifier this test does not expand", rel, line)
		}
		v = spec.Replace(v)
		switch section + "." + k {
		case "Service.Environment":
			for _, kv := range splitDeployWords(v) {
				name, val, _ := strings.Cut(kv, "=")
				r.env = append(r.env, deployEnv{name: name, value: val})
			}
		case "Service.LoadCredential":
			name, _, _ := strings.Cut(v, ":")
			r.credentials = append(r.credentials, name)
		case "Service.ExecStart":
			argv := splitDeployWords(strings.TrimLeft(v, "-@+!:"))
			if path.Base(argv[0]) != "pgsnap" {
				t.Errorf("deploy/%s: ExecStart runs %s, not pgsnap", rel, argv[0])
			}
			r.args, hasExec = argv[1:], true
		case "Timer.Unit":
			timerUnit = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(rel, ".timer") {
		if timerUnit == "" {
			timerUnit = strings.TrimSuffix(path.Base(rel), ".timer") + ".service"
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), timerUnit)); err != nil {
			t.Errorf("deploy/%s starts %s, which deploy/ lacks: %v", rel, timerUnit, err)
		}
		return nil
	}
	if !hasExec {
		t.Errorf("deploy/%s: no ExecStart", rel)
		return nil
	}
	return []deployRun{r}
}

// --- the Compose healthcheck, run for real ---

// checkHealthcheck runs the healthcheck command against pgsnap's handler served on a free
// port in place of the example's: it must pass while the scheduler runs and fail when it does
// not.
func checkHealthcheck(t *testing.T, argv []string, httpAddr string) {
	t.Helper()
	_, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		t.Fatalf("healthcheck of a daemon without an HTTP address (%q): %v", httpAddr, err)
	}
	script := strings.Join(argv, "\x00")
	if !strings.Contains(script, "/"+port) && !strings.Contains(script, ":"+port) {
		t.Fatalf("healthcheck %q does not ask port %s of SNAPSHOT_HTTP_ADDR", argv, port)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Skipf("healthcheck needs %s: %v", argv[0], err)
	}
	for _, alive := range []bool{true, false} {
		addr := serveDeployStatus(t, httpapi.Status{Version: "test", Targets: []httpapi.Target{{Name: "app", Alive: alive}}}, nil)
		_, testPort, _ := net.SplitHostPort(addr)
		args := slices.Clone(argv)
		for i := range args {
			args[i] = strings.ReplaceAll(strings.ReplaceAll(args[i], "/"+port, "/"+testPort), ":"+port, ":"+testPort)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		cancel()
		if alive && err != nil {
			t.Errorf("healthcheck fails against a live daemon: %v\n%s", err, out)
		}
		if !alive && err == nil {
			t.Errorf("healthcheck passes while the scheduler loop is not running")
		}
	}
}

// serveDeployStatus serves pgsnap's handler for st on a loopback port with httpapi.Serve until the
// test ends, and returns its address.
func serveDeployStatus(t *testing.T, st httpapi.Status, reg *prometheus.Registry) string {
	t.Helper()
	o := httpapi.Options{Status: func(context.Context) (httpapi.Status, error) { return st, nil }, Auth: httpapi.Auth{Token: deployScrapeToken}}
	if reg != nil {
		o.Registerer, o.Gatherer = reg, reg
	}
	h, err := httpapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpapi.Serve(ctx, ln, h, httpapi.ServerOptions{}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("httpapi.Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

const deployScrapeToken = "scrape-token"

// --- alert rules against a real scrape ---

var (
	alertMetric   = regexp.MustCompile(`\bpgsnap_[a-zA-Z0-9_]+`)
	alertGrouping = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

func checkAlertRules(t *testing.T, rules []alertRule) {
	served := scrapeMetrics(t)
	for _, r := range rules {
		used := alertMetric.FindAllString(r.expr, -1)
		if r.name == "" || len(used) == 0 {
			t.Errorf("alert %q: %q names no pgsnap metric", r.name, r.expr)
		}
		for _, m := range used {
			labels, ok := served[m]
			if !ok {
				t.Errorf("alert %s uses %s, which /metrics does not serve", r.name, m)
				continue
			}
			for _, g := range alertGrouping.FindAllStringSubmatch(r.expr, -1) {
				for l := range strings.SplitSeq(g[1], ",") {
					if l = strings.TrimSpace(l); l != "" && !labels[l] {
						t.Errorf("alert %s groups %s by %s, a label it does not have", r.name, m, l)
					}
				}
			}
		}
	}
}

// scrapeMetrics serves a status in which everything has happened once (a failure, a drill, a
// destination missing a snapshot) and returns each pgsnap metric /metrics serves with its labels.
func scrapeMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	now := time.Now()
	drill := &httpapi.Drill{At: now.Add(-time.Hour), Snapshot: "app-20261124T030000Z", OK: true, Duration: time.Minute}
	st := httpapi.Status{Version: "test", Targets: []httpapi.Target{{
		Name: "app", Schedule: "daily at 03:00 UTC", NextSlot: now.Add(time.Hour), Interval: 24 * time.Hour,
		StaleAfter: time.Hour, Alive: true, LastSuccess: now.Add(-2 * time.Hour), LastFailure: now.Add(-3 * time.Hour),
		LastError: "dump: exit status 1", LastDuration: time.Minute, LastSize: 1 << 20, DumpBytesPerSecond: 1e6,
		Attempts: 3, Retries: 1, Failures: map[string]int64{"dump": 1},
		Snapshots: []httpapi.Snapshot{{Name: "app-20261124T030000Z", Time: now.Add(-2 * time.Hour), Size: 1 << 20, Missing: []string{"s3"}, Drill: drill}},
		Destinations: []httpapi.Destination{
			{Name: "local", Snapshots: 1, Bytes: 1 << 20},
			{Name: "s3", Failures: 1, Incomplete: 1},
		},
		Drill: drill, DrillsPassed: 1,
	}}}
	addr := serveDeployStatus(t, st, prometheus.NewRegistry())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+deployScrapeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]map[string]bool{}
	for name, f := range fams {
		labels := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		out[name] = labels
	}
	if len(out) < 10 {
		t.Fatalf("/metrics served only %d families", len(out))
	}
	return out
}
