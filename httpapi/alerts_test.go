package httpapi

import (
	"os"
	"regexp"
	"testing"
)

// The alert rules shipped in deploy/prometheus name only metrics this package exports (promtool
// checks their syntax where it is installed; this catches a renamed metric).
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	exported, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (pgsnap_[a-z_]+) `).FindAllSubmatch(exported, -1) {
		have[string(m[1])] = true
	}
	used := regexp.MustCompile(`pgsnap_[a-z_]+`).FindAll(rules, -1)
	if len(used) == 0 {
		t.Fatal("no pgsnap metric in the alert rules")
	}
	for _, m := range used {
		if !have[string(m)] {
			t.Errorf("alerts.yaml uses %s, which pgsnap does not export", m)
		}
	}
}
