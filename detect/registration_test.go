package detect

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// decodeCase decodes a fixture case's record.
func decodeCase(t testing.TB, name string) DeviceAudit {
	t.Helper()
	for _, tc := range loadAuditCases(t) {
		if tc.Name == name {
			a, skip := DecodeDeviceAudit(compact(t, tc.Record))
			require.Equal(t, AuditUsed, skip, name)
			return a
		}
	}
	t.Fatalf("no audit case %q", name)
	return DeviceAudit{}
}

// roadtxBurst is the whole roadtx registration: the DRS record and the Core
// Directory burst (facts §2).
func roadtxBurst(t testing.TB) []DeviceAudit {
	var out []DeviceAudit
	for _, n := range []string{"roadtx register device", "roadtx add device", "add registered owner", "add registered users", "update device by DRS"} {
		out = append(out, decodeCase(t, n))
	}
	return out
}

func TestRegistrationMergeAnyOrder(t *testing.T) {
	burst := roadtxBurst(t)
	var want *Registration
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		order := rng.Perm(len(burst))
		var r Registration
		for _, k := range order {
			require.True(t, r.Merge(burst[k]))
		}
		// Redelivery changes nothing.
		for _, k := range order[:2] {
			require.False(t, r.Merge(burst[k]), "a redelivered record merges again")
		}
		if want == nil {
			want = &r
			continue
		}
		require.Equal(t, *want, r, "merge in order %v (iteration %d) differs", order, i)
	}
	require.True(t, want.Established())
	require.Equal(t, "9c1f3a52-6d1e-4b7a-8f3e-2d5c7a9b1e40", want.Field(RegDeviceID))
	require.Equal(t, "c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f", want.ObjectID)
	require.Equal(t, "DESKTOP-7K2M9QXA", want.Field(RegDisplayName))
	require.Equal(t, "10.0.19041.928", want.Field(RegOperatingSystemVersion), "from Add device")
	require.Equal(t, "Azure AD join", want.Field(RegTrustType), "Register device knows best")
	require.Equal(t, "Dsreg/10.0 (Windows 10.0.19041.928)", want.Field(RegUserAgent), "the client's, not the service's OData agent")
	require.Equal(t, "198.51.100.23", want.Field(RegAddress))
	require.Equal(t, "alex@contoso.example", want.Field(RegUPN))
	require.Equal(t, "2026-03-02T10:07:12.51Z", want.RegisteredAt.Format(time.RFC3339Nano), "the earliest creating record")
}

func TestRegistrationUpdateOnlyIsNotEstablished(t *testing.T) {
	var r Registration
	r.Merge(decodeCase(t, "update device by DRS"))
	require.False(t, r.Established(), "Update device alone is not a registration")
	require.Equal(t, "Microsoft.OData.Client/7.12.5", r.Field(RegUserAgent), "kept, at the lowest rank")
	r.Merge(decodeCase(t, "add registered owner"))
	require.True(t, r.Established())
}

func TestMergeRegistrationCommutes(t *testing.T) {
	burst := roadtxBurst(t)
	var a, b Registration
	a.Merge(burst[0])
	a.Merge(burst[3])
	b.Merge(burst[1])
	b.Merge(burst[2])
	b.Merge(burst[4])
	ab, ba := a, b
	ab.Records, ba.Records = append([]uint64(nil), a.Records...), append([]uint64(nil), b.Records...)
	ab.MergeRegistration(&b)
	ba.MergeRegistration(&a)
	require.Equal(t, ab, ba)
	var all Registration
	for _, x := range burst {
		all.Merge(x)
	}
	require.Equal(t, all, ab)
}

func TestFingerprints(t *testing.T) {
	reg := func(fields map[RegField]string) *Registration {
		r := &Registration{RegisteredAt: time.Unix(1, 0)}
		for f, v := range fields {
			r.offer(f, 4, v)
		}
		return r
	}
	tests := []struct {
		name   string
		fields map[RegField]string
		want   []string
	}{
		{name: "roadtx defaults (facts §8)", fields: map[RegField]string{
			RegDisplayName: "DESKTOP-7K2M9QXA", RegOperatingSystem: "Windows", RegOperatingSystemVersion: "10.0.19041.928",
			RegUserAgent: "Dsreg/10.0 (Windows 10.0.19041.928)"},
			want: []string{FingerprintRandomName, FingerprintRoadtoolsOSBuild}},
		{name: "kit defaults with axios (facts §8)", fields: map[RegField]string{
			RegDisplayName: "DESKTOP-4F9A2C", RegOperatingSystem: "Windows", RegOperatingSystemVersion: "10.0.19045.2006", RegUserAgent: "axios/1.7.2"},
			want: []string{FingerprintRandomName, FingerprintKitOSBuild, FingerprintScriptedClient}},
		{name: "kit spoofed Dsreg string on another build", fields: map[RegField]string{
			RegDisplayName: "WORKSTATION", RegOperatingSystem: "Windows", RegOperatingSystemVersion: "10.0.22631.2715",
			RegUserAgent: "Dsreg/10.0 (Windows 10.0.19045.2006)"},
			want: []string{FingerprintUAMismatch}},
		{name: "roadtx before 2024-06: python-requests", fields: map[RegField]string{
			RegOperatingSystem: "Windows", RegUserAgent: "python-requests/2.31.0"},
			want: []string{FingerprintScriptedClient}},
		{name: "Windows client claiming macOS", fields: map[RegField]string{
			RegOperatingSystem: "MacOS", RegOperatingSystemVersion: "12.2.0", RegUserAgent: "Dsreg/10.0 (Windows 10.0.19041.928)"},
			want: []string{FingerprintUAMismatch}},
		{name: "mobile client claiming Windows", fields: map[RegField]string{
			RegOperatingSystem: "Windows", RegUserAgent: "Dalvik/2.1.0 (Linux; U; Android 13)"},
			want: []string{FingerprintUAMismatch}},
		{name: "benign Windows 11 join", fields: map[RegField]string{
			RegDisplayName: "DESKTOP-3OVO59V", RegOperatingSystem: "Windows", RegOperatingSystemVersion: "10.0.22631.2715",
			RegUserAgent: "Dsreg/10.0 (Windows 10.0.22631.2715)"}},
		{name: "benign macOS registration", fields: map[RegField]string{
			RegDisplayName: "Alex's MacBook Pro", RegOperatingSystem: "MacOS", RegOperatingSystemVersion: "14.5.0", RegUserAgent: "DeviceRegistrationClient"}},
		{name: "the service's own agent says nothing", fields: map[RegField]string{
			RegOperatingSystem: "Android", RegUserAgent: "Microsoft.OData.Client/7.12.5"}},
		{name: "lower-case name is not the tools' alphabet", fields: map[RegField]string{RegDisplayName: "DESKTOP-abcdefgh"}},
		{name: "DESKTOP- and 7 characters is Windows setup's", fields: map[RegField]string{RegDisplayName: "DESKTOP-ABC1234"}},
		{name: "no user agent, no OS", fields: map[RegField]string{RegDisplayName: "iPhone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := reg(tc.fields).Fingerprints()
			require.Equal(t, tc.want, got, "Fingerprints(%v)", tc.fields)
		})
	}
}

func TestIsRandomDesktopName(t *testing.T) {
	for name, want := range map[string]bool{
		"DESKTOP-7K2M9QXA": true, "DESKTOP-4F9A2C": true, "DESKTOP-ABCDEF": true,
		"DESKTOP-3OVO59V": false, "DESKTOP-": false, "desktop-7K2M9QXA": false, "DESKTOP-7K2M9QX!": false,
		"LAPTOP-7K2M9QXA": false, "DESKTOP-7K2M9QXAB": false,
	} {
		require.Equal(t, want, IsRandomDesktopName(name), "IsRandomDesktopName(%q)", name)
	}
}
