{{/*
Helpers of the llm-gateway chart, all prefixed `llm-gateway.`.
*/}}

{{/*
llm-gateway.fullname: base name of the objects whose name is not set in values (EnvoyProxy, policies).
Default the release name, nameOverride replaces it. Length arithmetic: the longest suffix appended is
"-ratelimit" (10 characters) and names are kept to one DNS label (63), so the base is cut to 63 - 10 = 53.
*/}}
{{- define "llm-gateway.fullname" -}}
{{- default .Release.Name .Values.nameOverride | trunc 53 | trimSuffix "-" -}}
{{- end -}}

{{/*
llm-gateway.chart: "name-version" for the helm.sh/chart label.
*/}}
{{- define "llm-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
llm-gateway.gatewayClassName: the GatewayClass the Gateway uses; "" = "<fullname>-<namespace>". GatewayClasses are
cluster-scoped and this one points at the EnvoyProxy of its own namespace, so each namespace's release gets its own
class by default: a second namespace never collides with the first (one DNS label: at most 63 characters).
*/}}
{{- define "llm-gateway.gatewayClassName" -}}
{{- default (printf "%s-%s" (include "llm-gateway.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-") .Values.gatewayClass.name -}}
{{- end -}}

{{/*
llm-gateway.envoyProxyName: the EnvoyProxy holding the data-plane settings.
*/}}
{{- define "llm-gateway.envoyProxyName" -}}
{{- include "llm-gateway.fullname" . -}}
{{- end -}}

{{/*
llm-gateway.labels: labels of every object. `llm.nrp-nautilus.io/gateway` names the release, so inventory can tell
the shared gateway objects apart from the per-model ones (which carry llm.nrp-nautilus.io/model instead).
Usage: {{- include "llm-gateway.labels" (dict "component" "gateway" "context" $) | nindent 4 }}
*/}}
{{- define "llm-gateway.labels" -}}
{{- $ctx := .context -}}
app.kubernetes.io/name: {{ $ctx.Chart.Name }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: kubectl-llm
helm.sh/chart: {{ include "llm-gateway.chart" $ctx }}
llm.nrp-nautilus.io/gateway: {{ $ctx.Release.Name }}
{{- end -}}

{{/*
llm-gateway.targetRef: the policy target list for the Gateway (group and kind written out).
*/}}
{{- define "llm-gateway.targetRefs" -}}
- group: gateway.networking.k8s.io
  kind: Gateway
  name: {{ .Values.gateway.name }}
{{- end -}}

{{/*
llm-gateway.validateValues: cross-field rules the schema cannot express; gathers all, fails once.
*/}}
{{- define "llm-gateway.validateValues" -}}
{{- $msgs := list -}}
{{- $a := .Values.auth -}}
{{- if and (eq $a.type "apiKey") (not $a.apiKey.secretName) -}}
{{- $msgs = append $msgs "auth.type apiKey needs auth.apiKey.secretName (an existing Secret: one key per client id)" -}}
{{- end -}}
{{- if and (eq $a.type "jwt") (not $a.jwt.providers) -}}
{{- $msgs = append $msgs "auth.type jwt needs auth.jwt.providers" -}}
{{- end -}}
{{- if and .Values.rateLimit.enabled (not .Values.rateLimit.clientHeader) -}}
{{- $msgs = append $msgs "rateLimit.enabled needs rateLimit.clientHeader (the header that tells clients apart)" -}}
{{- end -}}
{{- if and (not .Values.gatewayClass.create) (not .Values.gatewayClass.name) -}}
{{- $msgs = append $msgs "gatewayClass.create false needs gatewayClass.name (the existing GatewayClass to use)" -}}
{{- end -}}
{{- range $k, $_ := .Values.engineConfig.env -}}
{{- if regexMatch "(?i)((^|_)(token|secret|passw(or)?d?|api_?key|credentials?)($|_))|password|secret" $k -}}
{{- $msgs = append $msgs (printf "engineConfig.env.%s looks like a secret: a ConfigMap is readable by everyone in the namespace; use a Secret (engine.hfTokenSecret in llm-model)" $k) -}}
{{- end -}}
{{- end -}}
{{- if $msgs -}}
{{- fail (printf "\n\nllm-gateway: invalid values:\n  - %s" (join "\n  - " $msgs)) -}}
{{- end -}}
{{- end -}}

{{/*
llm-gateway.image: an image reference through the registry mirror imageRegistry ("" = unchanged); a reference that
names its registry (first part with "." or ":" or "localhost") has that registry replaced by the mirror (as
llm-model.image does).
Usage: {{ include "llm-gateway.image" (dict "image" .Values.test.image "context" $) }}
*/}}
{{- define "llm-gateway.image" -}}
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
