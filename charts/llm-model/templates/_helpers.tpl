{{/*
Helpers of the llm-model chart. Every helper is prefixed `llm-model.` so it cannot collide with another chart's
helpers when this chart is used as a subchart.
*/}}

{{/*
llm-model.fullname: base name of every object of the release.
Usage: {{ include "llm-model.fullname" . }}

Default: the release name (one release = one model, so it is already unique in the namespace); nameOverride
replaces it. Length arithmetic: a Service name must be a DNS-1035 label (<= 63 characters) and labels values are
<= 63 too. The longest suffix this chart appends is "-test" (5 characters, the helm test Pod), so the base is
truncated to 63 - 5 = 58 characters; the trailing "-" a cut can leave is trimmed. Helm itself caps release names at
53, so the cut only bites on a long nameOverride.
*/}}
{{- define "llm-model.fullname" -}}
{{- default .Release.Name .Values.nameOverride | trunc 58 | trimSuffix "-" -}}
{{- end -}}

{{/*
llm-model.chart: "name-version" for the helm.sh/chart label ("+" is not allowed in label values).
*/}}
{{- define "llm-model.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
llm-model.labelValue: sanitise any string into a valid label value (<= 63, alphanumeric at both ends, only
[-_.A-Za-z0-9] inside). Usage: {{ include "llm-model.labelValue" "Qwen/Qwen3-8B" }} -> Qwen_Qwen3-8B
*/}}
{{- define "llm-model.labelValue" -}}
{{- regexReplaceAll "[^-_.A-Za-z0-9]" . "_" | trunc 63 | trimAll "-_." -}}
{{- end -}}

{{/*
llm-model.version: the engine image tag (what actually runs) for app.kubernetes.io/version; falls back to the
chart's appVersion for digests, untagged images and the modes without an engine.
*/}}
{{- define "llm-model.version" -}}
{{- $tag := "" -}}
{{- if and (eq .Values.mode "model") (not (contains "@" .Values.engine.image)) -}}
{{- $parts := splitList ":" .Values.engine.image -}}
{{- if gt (len $parts) 1 -}}{{- $tag = last $parts -}}{{- end -}}
{{- if contains "/" $tag -}}{{- $tag = "" -}}{{- end -}}
{{- end -}}
{{- include "llm-model.labelValue" (default .Chart.AppVersion $tag) -}}
{{- end -}}

{{/*
llm-model.selectorLabels: the minimal, immutable labels a Deployment selector and the Service use. They never
change between upgrades (a Deployment's selector is immutable), so no version or chart label here.
The component keeps the helm test Pod (which carries the same name/instance) out of the Service.
Usage: {{- include "llm-model.selectorLabels" . | nindent 4 }}
*/}}
{{- define "llm-model.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: inference
{{- end -}}

{{/*
llm-model.labels: the labels of every object. Called with a dict so each object names its component:
  {{- include "llm-model.labels" (dict "component" "gateway" "context" $) | nindent 4 }}
`llm.nrp-nautilus.io/model` = release name is what `kubectl llm list` and clean-up select on; it is on every
object, including the Pod template and the helm test Pod.
*/}}
{{- define "llm-model.labels" -}}
{{- $ctx := .context -}}
app.kubernetes.io/name: {{ $ctx.Chart.Name }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ include "llm-model.version" $ctx | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: kubectl-llm
helm.sh/chart: {{ include "llm-model.chart" $ctx }}
llm.nrp-nautilus.io/model: {{ $ctx.Release.Name }}
{{- end -}}

{{/*
llm-model.annotations: informational annotations on the main objects (read back by `kubectl llm list`).
*/}}
{{- define "llm-model.annotations" -}}
llm.nrp-nautilus.io/model-id: {{ .Values.model.id | quote }}
llm.nrp-nautilus.io/served-name: {{ .Values.model.servedName | quote }}
llm.nrp-nautilus.io/route: {{ include "llm-model.routeName" . | quote }}
llm.nrp-nautilus.io/mode: {{ .Values.mode | quote }}
{{- if eq .Values.mode "model" }}
llm.nrp-nautilus.io/engine: {{ .Values.engine.name | quote }}
llm.nrp-nautilus.io/gpu: {{ printf "%d x %s" (mul (int .Values.gpu.count) (max 1 (int .Values.group.size))) .Values.gpu.type | quote }}
llm.nrp-nautilus.io/nodes: {{ max 1 (int .Values.group.size) | toString | quote }}
llm.nrp-nautilus.io/replicas: {{ int .Values.replicas | toString | quote }}
llm.nrp-nautilus.io/max-model-len: {{ int64 .Values.engine.maxModelLen | toString | quote }}
{{- end }}
{{- end -}}

{{/*
llm-model.routeName: the x-ai-eg-model header value clients put in "model"; default the release name.
*/}}
{{- define "llm-model.routeName" -}}
{{- default .Release.Name .Values.gateway.routeName -}}
{{- end -}}

{{/*
llm-model.serviceHost: in-cluster FQDN of the engine Service, the handbook's Backend hostname
(<name>.<namespace>.svc.<clusterDomain>).
*/}}
{{- define "llm-model.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "llm-model.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/*
llm-model.image: an image reference through the registry mirror imageRegistry ("" = unchanged). A reference that
names its registry (first part with "." or ":" or "localhost") has that registry replaced by the mirror:
  vllm/vllm-openai:v0.17.0 + mirror.example.org/hub -> mirror.example.org/hub/vllm/vllm-openai:v0.17.0
  ghcr.io/org/img:1        + mirror.example.org/hub -> mirror.example.org/hub/org/img:1
Usage: {{ include "llm-model.image" (dict "image" .Values.engine.image "context" $) }}
*/}}
{{- define "llm-model.image" -}}
{{- $mirror := trimSuffix "/" .context.Values.imageRegistry -}}
{{- if $mirror -}}
{{- $parts := splitn "/" 2 .image -}}
{{- $first := $parts._0 -}}
{{- if and $parts._1 (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- printf "%s/%s" $mirror $parts._1 -}}
{{- else -}}
{{- printf "%s/%s" $mirror .image -}}
{{- end -}}
{{- else -}}
{{- .image -}}
{{- end -}}
{{- end -}}

{{/*
llm-model.claimName: the weights PVC the Deployment mounts (storage.existingClaim wins).
*/}}
{{- define "llm-model.claimName" -}}
{{- default (include "llm-model.fullname" .) .Values.storage.existingClaim -}}
{{- end -}}

{{/*
llm-model.aigatewayApiVersion: aigateway.envoyproxy.io API version of AIGatewayRoute, AIServiceBackend and
BackendSecurityPolicy. gateway.apiVersion forces it; "" = v1beta1 when the cluster serves it (AI Gateway >= v0.6,
seen through .Capabilities.APIVersions, i.e. --api-versions offline) else v1alpha1 (AI Gateway v0.3 - v0.5, what
NRP runs today). The fields this chart writes are identical in both versions (gateway-api-facts.md §1, §6).
*/}}
{{- define "llm-model.aigatewayApiVersion" -}}
{{- if .Values.gateway.apiVersion -}}
{{- printf "aigateway.envoyproxy.io/%s" .Values.gateway.apiVersion -}}
{{- else if .Capabilities.APIVersions.Has "aigateway.envoyproxy.io/v1beta1/AIGatewayRoute" -}}
aigateway.envoyproxy.io/v1beta1
{{- else -}}
aigateway.envoyproxy.io/v1alpha1
{{- end -}}
{{- end -}}

{{/*
llm-model.startupFailureThreshold: how many startup probe periods to wait before the kubelet kills the engine.
  seconds   = ceil(weightBytes / downloadBytesPerSecond) + loadSeconds
  threshold = ceil(seconds / periodSeconds), at least 1
Integer ceiling as (a + b - 1) / b in int64 (values arrive as float64; 2^53 bytes is far above any model).
Example: 16.4 GB at 50 MB/s = 328 s, + 900 s load = 1228 s, / 10 s -> 123 probes.
*/}}
{{- define "llm-model.startupFailureThreshold" -}}
{{- $p := .Values.probes -}}
{{- $w := int64 $p.weightBytes -}}
{{- $r := int64 $p.downloadBytesPerSecond -}}
{{- $period := int64 $p.periodSeconds -}}
{{- $seconds := add (div (sub (add $w $r) 1) $r) (int64 $p.loadSeconds) -}}
{{- max 1 (div (sub (add $seconds $period) 1) $period) -}}
{{- end -}}

{{/*
llm-model.validateValues: check the rules the JSON schema cannot express, gather every violation, and fail once
with all of them (Bitnami style) so a user fixes everything in one go.
*/}}
{{- define "llm-model.validateValues" -}}
{{- $msgs := list -}}
{{- $v := .Values -}}
{{- $ext := $v.gateway.external -}}
{{- if and (ne $v.mode "model") (not $v.gateway.enabled) -}}
{{- $msgs = append $msgs (printf "mode %s renders only gateway objects: gateway.enabled must be true" $v.mode) -}}
{{- end -}}
{{- if eq $v.mode "external" -}}
{{- if and (not $ext.hostname) (not $ext.ip) -}}
{{- $msgs = append $msgs "mode external needs gateway.external.hostname or gateway.external.ip" -}}
{{- end -}}
{{- if and $ext.hostname $ext.ip -}}
{{- $msgs = append $msgs "gateway.external: set hostname or ip, not both" -}}
{{- end -}}
{{- else if or $ext.hostname $ext.ip -}}
{{- $msgs = append $msgs (printf "gateway.external.hostname/ip are only used with mode external (mode is %s)" $v.mode) -}}
{{- end -}}
{{- if eq $v.mode "alias" -}}
{{- if not $v.gateway.alias.backends -}}
{{- $msgs = append $msgs "mode alias needs gateway.alias.backends (other releases' AIServiceBackend names)" -}}
{{- end -}}
{{- if $v.gateway.apiKeySecret.name -}}
{{- $msgs = append $msgs "mode alias has no backend of its own: gateway.apiKeySecret must be empty (the aliased releases carry their keys)" -}}
{{- end -}}
{{- else if $v.gateway.alias.backends -}}
{{- $msgs = append $msgs (printf "gateway.alias.backends is only used with mode alias (mode is %s)" $v.mode) -}}
{{- end -}}
{{- if and (eq $v.mode "model") (not $v.engine.args) -}}
{{- $msgs = append $msgs "mode model needs engine.args (the planner's ready-made engine argument list)" -}}
{{- end -}}
{{- if and (eq $v.mode "model") (gt (int $v.group.size) 1) (not $v.group.workerArgs) (not $v.group.workerCommand) -}}
{{- $msgs = append $msgs "group.size > 1 needs group.workerArgs or group.workerCommand (the planner's worker launch)" -}}
{{- end -}}
{{- if and (eq $v.mode "model") (gt (int $v.group.size) 1) $v.storage.existingClaim (ne $v.storage.accessMode "ReadWriteMany") (ne $v.storage.accessMode "ReadOnlyMany") -}}
{{- $msgs = append $msgs "storage.existingClaim is mounted by every pod of a multi-node group: it must be ReadWriteMany (set storage.accessMode to say so)" -}}
{{- end -}}
{{- if and (eq $v.mode "model") (eq $v.workload "StatefulSet") (gt (int $v.group.size) 1) -}}
{{- $msgs = append $msgs "workload StatefulSet is for a model on one node: a group spanning nodes (group.size > 1) is a LeaderWorkerSet" -}}
{{- end -}}
{{- if and (eq $v.mode "model") (eq $v.workload "StatefulSet") $v.storage.existingClaim -}}
{{- $msgs = append $msgs "workload StatefulSet gives each replica its own claim: storage.existingClaim (one claim) needs workload Deployment and a ReadWriteMany claim" -}}
{{- end -}}
{{- if and (eq $v.mode "model") (eq $v.workload "Deployment") (le (int $v.group.size) 1) (gt (int $v.replicas) 1) (ne $v.storage.accessMode "ReadWriteMany") (ne $v.storage.accessMode "ReadOnlyMany") -}}
{{- $msgs = append $msgs (printf "%d replicas of a Deployment mount its one weights claim, which a %s volume allows on one node only: set storage.accessMode ReadWriteMany (with a class that provides it), or workload StatefulSet (one claim per replica)" (int $v.replicas) $v.storage.accessMode) -}}
{{- end -}}
{{- if and $v.storage.existingClaim $v.storage.keep -}}
{{- $msgs = append $msgs "storage.keep only applies to the PVC this chart creates; it has no effect with storage.existingClaim" -}}
{{- end -}}
{{- range $i, $e := $v.engine.env -}}
{{- if and (hasKey $e "value") $e.value (regexMatch "(?i)((^|_)(token|secret|passw(or)?d?|api_?key|credentials?)($|_))|password|secret" (toString $e.name)) -}}
{{- $msgs = append $msgs (printf "engine.env[%d] %s has a plain value and looks like a secret: values are stored in the release (helm get values) and rendered into the manifests; reference a Secret (valueFrom.secretKeyRef; the Hugging Face token: engine.hfTokenSecret)" $i (toString $e.name)) -}}
{{- end -}}
{{- end -}}
{{- if $msgs -}}
{{- fail (printf "\n\nllm-model: invalid values:\n  - %s" (join "\n  - " $msgs)) -}}
{{- end -}}
{{- end -}}
