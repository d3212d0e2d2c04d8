package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/drswatch/drswatch/detect"
)

// naiveReplay is the baseline handler: each line decoded with encoding/json
// into map[string]any, then the rule's filter on the maps and the grouping
// key of each selected record. It returns how many records it selected.
func naiveReplay(name string) (int, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	rule := detect.DefaultRule()
	groups := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	selected := 0
	for sc.Scan() {
		var body map[string]any
		if err := json.Unmarshal(sc.Bytes(), &body); err != nil {
			continue
		}
		recs, _ := body["records"].([]any)
		for _, r := range recs {
			rec, _ := r.(map[string]any)
			if key, ok := naiveSelect(rule, rec); ok {
				groups[key]++
				selected++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: read %s: %w", name, err)
	}
	return selected, nil
}

func naiveSelect(rule detect.Rule, rec map[string]any) (string, bool) {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	cat := str(rec, "category")
	if !strings.HasSuffix(cat, "SignInLogs") {
		return "", false
	}
	p, _ := rec["properties"].(map[string]any)
	if p == nil || str(p, "appId") != rule.AppID || str(p, "resourceId") != rule.ResourceID || str(p, "userType") != "Member" {
		return "", false
	}
	if st, _ := p["status"].(map[string]any); st != nil {
		if code, _ := st["errorCode"].(float64); code != 0 {
			return "", false
		}
	}
	upn, ip := str(p, "userPrincipalName"), str(p, "ipAddress")
	if str(rec, "identity") == "" || upn == "" || ip == "" {
		return "", false
	}
	t := str(rec, "time")
	return t[:min(len(t), 15)] + "|" + upn + "|" + str(p, "sessionId"), true
}
