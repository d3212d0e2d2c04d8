package bicep_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestCostTable recomputes the README's cost table ("Cost and sizing" in
// the Deploy section) from the assumptions and prices it states, so a
// changed price or assumption cannot leave a figure behind.
func TestCostTable(t *testing.T) {
	const (
		recordsPerUserDay = 200
		recordBytes       = 2600
		recordsPerEvent   = 50
		daysPerMonth      = 30.4
		hoursPerMonth     = 730
		peakFactor        = 4
		laBilledFraction  = 0.75

		tuHour          = 0.03     // Event Hubs Standard, per TU-hour
		ingressPerM     = 0.028    // per million 64 KB ingress units
		retentionGBTU   = 84       // GB of retention included per TU
		retentionDays   = 7        // messageRetentionInDays default
		tuBytesPerSec   = 1e6      // ingress per TU
		flexGBs         = 0.000026 // per GB-s on demand
		flexPerM        = 0.40     // per million executions
		freeGBs         = 100000
		freeExecutions  = 250000
		sweepPerMonth   = 8640 // every 5 minutes
		blobWritePer10k = 0.05
		laPerGB         = 2.30
		aiFreeGB        = 5
		aiBytesPerInv   = 3000
	)
	doc := costSection(t)
	money := func(v float64) string {
		s := fmt.Sprintf("%.2f", v)
		return "$" + s
	}
	whole := func(v float64) string {
		n := int(math.Round(v))
		if n >= 1000 {
			return fmt.Sprintf("$%d,%03d", n/1000, n%1000)
		}
		return fmt.Sprintf("$%d", n)
	}
	for _, tc := range []struct {
		name  string
		users float64
	}{{"small", 1000}, {"medium", 10000}, {"large", 100000}} {
		t.Run(tc.name, func(t *testing.T) {
			records := tc.users * recordsPerUserDay * daysPerMonth
			bytes := records * recordBytes
			events := records / recordsPerEvent
			tuPeak := math.Max(1, math.Ceil(bytes/(daysPerMonth*86400)*peakFactor/tuBytesPerSec))
			tuRetention := math.Max(1, math.Ceil(bytes/daysPerMonth*retentionDays/1e9/retentionGBTU))
			tus := math.Max(tuPeak, tuRetention)
			invocations := events + sweepPerMonth
			flex := func(memGB float64) float64 {
				return math.Max(0, invocations*memGB-freeGBs)*flexGBs + math.Max(0, invocations-freeExecutions)/1e6*flexPerM
			}
			ai := math.Max(0, invocations*aiBytesPerInv/1e9-aiFreeGB) * laPerGB
			want := []string{
				money(tus * hoursPerMonth * tuHour),
				money(bytes / 65536 / 1e6 * ingressPerM),
				money(flex(2)),
				"(" + money(flex(0.5)) + ")",
				money(invocations * blobWritePer10k / 1e4),
				whole(bytes / 1e9 * laBilledFraction * laPerGB),
			}
			if ai > 0 {
				want = append(want, money(ai))
			}
			for _, w := range want {
				if !strings.Contains(doc, w) {
					t.Errorf("the cost table has no %s (recomputed for %s)", w, tc.name)
				}
			}
		})
	}
}

func costSection(t *testing.T) string {
	t.Helper()
	doc := deploySection(t)
	start := strings.Index(doc, "\n### Cost and sizing\n")
	if start < 0 {
		t.Fatal("README.md Deploy section has no \"### Cost and sizing\"")
	}
	rest := doc[start+1:]
	if end := strings.Index(rest[1:], "\n### "); end >= 0 {
		rest = rest[:end+1]
	}
	return rest
}
