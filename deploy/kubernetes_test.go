package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"
)

type kustomization struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Namespace  string `yaml:"namespace"`
	Labels     []struct {
		Pairs            map[string]string `yaml:"pairs"`
		IncludeSelectors bool              `yaml:"includeSelectors"`
	} `yaml:"labels"`
	Resources []string `yaml:"resources"`
	Images    []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	} `yaml:"images"`
	ConfigMapGenerator []struct {
		Name    string   `yaml:"name"`
		Files   []string `yaml:"files"`
		Options struct {
			DisableNameSuffixHash bool              `yaml:"disableNameSuffixHash"`
			Labels                map[string]string `yaml:"labels"`
		} `yaml:"options"`
	} `yaml:"configMapGenerator"`
}

func loadKustomization(t *testing.T) kustomization {
	t.Helper()
	var k kustomization
	if err := readYAMLStrict(filepath.Join(kubernetesDir, "kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKustomizationListsEveryFile: every manifest in the directory is a
// resource (the example Secret excepted, on purpose), every resource and
// generator file exists, and nothing else lies around unused.
func TestKustomizationListsEveryFile(t *testing.T) {
	k := loadKustomization(t)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization header %q %q", k.APIVersion, k.Kind)
	}
	used := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		used[r] = true
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			_, src, ok := strings.Cut(f, "=")
			if !ok {
				src = f
			}
			used[src] = true
		}
	}
	for f := range used {
		if _, err := os.Stat(filepath.Join(kubernetesDir, f)); err != nil {
			t.Errorf("listed but missing: %v", err)
		}
	}
	entries, err := os.ReadDir(kubernetesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || used[e.Name()] || strings.HasSuffix(e.Name(), ".example.yaml") {
			continue
		}
		t.Errorf("%s is in %s but not in kustomization.yaml", e.Name(), kubernetesDir)
	}
}

// decodeManifest decodes one Kubernetes object strictly (unknown fields are
// errors) into its typed API struct.
func decodeManifest(doc []byte) (any, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := sigsyaml.Unmarshal(doc, &head); err != nil {
		return nil, err
	}
	var obj any
	switch head.APIVersion + "/" + head.Kind {
	case "v1/Namespace":
		obj = &corev1.Namespace{}
	case "v1/ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "v1/Service":
		obj = &corev1.Service{}
	case "v1/Secret":
		obj = &corev1.Secret{}
	case "v1/ConfigMap":
		obj = &corev1.ConfigMap{}
	case "apps/v1/DaemonSet":
		obj = &appsv1.DaemonSet{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		obj = &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		obj = &monitoringv1.PrometheusRule{}
	default:
		return nil, fmt.Errorf("no type known for %s %s", head.APIVersion, head.Kind)
	}
	if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", head.Kind, err)
	}
	return obj, nil
}

func splitYAMLDocs(data []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

type kubeObjects struct {
	daemonSet      *appsv1.DaemonSet
	service        *corev1.Service
	serviceMonitor *monitoringv1.ServiceMonitor
	secret         *corev1.Secret
	configMaps     map[string]*corev1.ConfigMap
}

func collectObjects(t *testing.T, objs []any) kubeObjects {
	t.Helper()
	k := kubeObjects{configMaps: map[string]*corev1.ConfigMap{}}
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.DaemonSet:
			k.daemonSet = v
		case *corev1.Service:
			k.service = v
		case *monitoringv1.ServiceMonitor:
			k.serviceMonitor = v
		case *corev1.Secret:
			k.secret = v
		case *corev1.ConfigMap:
			k.configMaps[v.Name] = v
		}
	}
	if k.daemonSet == nil || k.service == nil || k.serviceMonitor == nil {
		t.Fatal("DaemonSet, Service or ServiceMonitor missing")
	}
	return k
}

func TestKubernetesManifestsStrict(t *testing.T) {
	k := loadKustomization(t)
	files := append(slices.Clone(k.Resources), "geoipupdate-secret.example.yaml")
	var objs []any
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(kubernetesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		docs := splitYAMLDocs(data)
		if len(docs) == 0 {
			t.Errorf("%s: no object", f)
		}
		for _, doc := range docs {
			obj, err := decodeManifest(doc)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			objs = append(objs, obj)
		}
	}
	if t.Failed() {
		return
	}
	ko := collectObjects(t, objs)
	checkWorkload(t, ko, k)
}

// checkWorkload checks what the DaemonSet, Service, ServiceMonitor and
// Secret must agree on, and the agent's privileges.
func checkWorkload(t *testing.T, ko kubeObjects, k kustomization) {
	t.Helper()
	ds := ko.daemonSet
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v dnsPolicy %q, want true and ClusterFirstWithHostNet", spec.HostNetwork, spec.DNSPolicy)
	}
	if psc := spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod must run as a non-root user (runAsNonRoot, runAsUser != 0)")
	}
	selector := ds.Spec.Selector.MatchLabels
	for key, v := range selector {
		if ds.Spec.Template.Labels[key] != v {
			t.Errorf("selector %s=%s does not match the pod template", key, v)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	containers := map[string]corev1.Container{}
	for _, c := range spec.Containers {
		containers[c.Name] = c
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s: must drop ALL capabilities", c.Name)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("container %s: no %s request", c.Name, r)
			}
			if _, ok := c.Resources.Limits[r]; !ok {
				t.Errorf("container %s: no %s limit", c.Name, r)
			}
		}
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("container %s mounts unknown volume %q", c.Name, m.Name)
			}
		}
	}
	agent, ok := containers["jurismon"]
	if !ok {
		t.Fatal("no jurismon container")
	}
	var add []string
	for _, c := range agent.SecurityContext.Capabilities.Add {
		add = append(add, string(c))
	}
	if !sameSet(add, []string{"NET_RAW", "NET_ADMIN"}) {
		t.Errorf("agent adds capabilities %v, want exactly NET_RAW and NET_ADMIN", add)
	}
	ports := map[string]int32{}
	for _, p := range agent.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["metrics"] != 9746 {
		t.Errorf("agent port metrics = %d, want 9746", ports["metrics"])
	}
	for name, probe := range map[string]*corev1.Probe{"/-/healthy": agent.LivenessProbe, "/-/ready": agent.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port.StrVal != "metrics" {
			t.Errorf("probe on %s missing or not on the metrics port: %+v", name, probe)
		}
	}
	generated := map[string]bool{}
	for _, g := range k.ConfigMapGenerator {
		generated[g.Name] = true
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil && !generated[v.ConfigMap.Name] && ko.configMaps[v.ConfigMap.Name] == nil {
			t.Errorf("volume %s uses ConfigMap %q, which nothing generates", v.Name, v.ConfigMap.Name)
		}
	}

	// The agent and the updater share the GeoIP volume.
	updater, ok := containers["geoipupdate"]
	if !ok {
		t.Fatal("no geoipupdate container")
	}
	mountAt := func(c corev1.Container, dir string) string {
		for _, m := range c.VolumeMounts {
			if m.MountPath == dir {
				return m.Name
			}
		}
		return ""
	}
	if v := mountAt(agent, "/usr/share/GeoIP"); v == "" || v != mountAt(updater, "/usr/share/GeoIP") {
		t.Error("jurismon and geoipupdate must mount the same volume at /usr/share/GeoIP")
	}
	// Its credentials come from the Secret whose example ships with the base.
	env := map[string]corev1.EnvVar{}
	for _, e := range updater.Env {
		env[e.Name] = e
	}
	for _, name := range []string{"GEOIPUPDATE_ACCOUNT_ID", "GEOIPUPDATE_LICENSE_KEY"} {
		ref := env[name].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil {
			t.Errorf("%s must come from a Secret", name)
			continue
		}
		if ko.secret != nil && (ref.SecretKeyRef.Name != ko.secret.Name || ko.secret.StringData[ref.SecretKeyRef.Key] == "") {
			t.Errorf("%s refers to %s/%s, which the example Secret lacks", name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
		}
	}
	if !sameSet(strings.Fields(env["GEOIPUPDATE_EDITION_IDS"].Value), []string{"GeoLite2-Country", "GeoLite2-ASN"}) {
		t.Errorf("GEOIPUPDATE_EDITION_IDS %q", env["GEOIPUPDATE_EDITION_IDS"].Value)
	}

	// Service selects the pods; the ServiceMonitor selects the Service
	// and scrapes a port it has.
	for key, v := range ko.service.Spec.Selector {
		if ds.Spec.Template.Labels[key] != v {
			t.Errorf("Service selector %s=%s does not match the pods", key, v)
		}
	}
	svcPorts := map[string]bool{}
	for _, p := range ko.service.Spec.Ports {
		svcPorts[p.Name] = true
		if p.TargetPort != intstr.FromString("metrics") {
			t.Errorf("Service port %s targets %v, want the metrics port", p.Name, p.TargetPort)
		}
	}
	for key, v := range ko.serviceMonitor.Spec.Selector.MatchLabels {
		if ko.service.Labels[key] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not match the Service", key, v)
		}
	}
	for _, ep := range ko.serviceMonitor.Spec.Endpoints {
		if !svcPorts[ep.Port] || ep.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %s %s: want a Service port and /metrics", ep.Port, ep.Path)
		}
	}
	// The alerts match job="jurismon", which the operator takes from the
	// Service's name.
	if ko.service.Name != "jurismon" {
		t.Errorf("Service %q: the job label would not be jurismon", ko.service.Name)
	}
}

// TestKubernetesCopiesInSync: kustomize only reads files under the base's
// directory, so the policy and the dashboard are copies; they must not
// drift from their sources.
func TestKubernetesCopiesInSync(t *testing.T) {
	for copyName, src := range map[string]string{"policy.yml": policyExample, "jurismon.json": dashboardFile} {
		dst := filepath.Join(kubernetesDir, copyName)
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(dst, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s; run go test -run TestKubernetesCopiesInSync -update", dst, src)
		}
	}
}

// TestKubectlKustomize builds the base with kustomize (kubectl's built-in
// copy) and decodes every object of the output strictly: generated
// ConfigMaps, namespace and labels included.
func TestKubectlKustomize(t *testing.T) {
	kubectl := lookPathOrSkip(t, "kubectl", "kubectl, from the Kubernetes project's packages")
	out := runTool(t, ".", kubectl, "kustomize", kubernetesDir)
	var objs []any
	for _, doc := range splitYAMLDocs([]byte(out)) {
		obj, err := decodeManifest(doc)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj)
	}
	k := loadKustomization(t)
	ko := collectObjects(t, objs)
	checkWorkload(t, ko, k)
	if ko.daemonSet.Namespace != "jurismon" {
		t.Errorf("DaemonSet namespace %q", ko.daemonSet.Namespace)
	}
	dash := ko.configMaps["jurismon-grafana-dashboard"]
	if dash == nil || dash.Labels["grafana_dashboard"] != "1" || dash.Data["jurismon.json"] == "" {
		t.Error("no dashboard ConfigMap labelled grafana_dashboard=1 with jurismon.json")
	}
	// The policy ConfigMap gets a content hash in its name, and the
	// DaemonSet must refer to that name.
	var policyRef string
	for _, v := range ko.daemonSet.Spec.Template.Spec.Volumes {
		if v.Name == "policy" && v.ConfigMap != nil {
			policyRef = v.ConfigMap.Name
		}
	}
	if cm := ko.configMaps[policyRef]; cm == nil || !strings.HasPrefix(policyRef, "jurismon-policy-") || cm.Data["policy.yml"] == "" {
		t.Errorf("DaemonSet refers to policy ConfigMap %q, which the build does not hold", policyRef)
	}
}

// ---------------------------------------------------------------------------
// systemd
