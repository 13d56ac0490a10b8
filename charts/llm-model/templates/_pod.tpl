{{/*
llm-model.podSpec: the engine Pod spec, shared by the Deployment (one node) and both templates of the
LeaderWorkerSet (a model spanning nodes), so a single-node and a multi-node release differ only where they must.
Usage: {{- include "llm-model.podSpec" (dict "ctx" $ "role" "single") | nindent 6 }}
  role single  the Deployment's Pod: engine.args, the http port and the three probes, the release's PVC;
  role replica a StatefulSet's Pod: as single, but its claim "cache" comes from the volumeClaimTemplates;
  role leader  LWS leader (worker-index 0): engine.args (rank 0 serves the API), the port and the probes;
  role worker  LWS workers: group.workerCommand (when set, else engine.command) and group.workerArgs (headless
               ranks or Ray workers: no port, no probes; the group is recreated as a whole when any pod fails,
               restartPolicy RecreateGroupOnPodRestart).
Leader and workers mount the per-pod claim "cache" of the LWS volumeClaimTemplates (each node downloads and loads
its own copy); storage.existingClaim replaces it (then it must be ReadWriteMany for a group).
*/}}
{{- define "llm-model.podSpec" -}}
{{- $ := .ctx -}}
{{- $v := $.Values -}}
{{- $role := .role -}}
{{- $gpu := dict $v.gpu.resource (toString (int $v.gpu.count)) -}}
{{- with $v.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with $v.runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.scheduling.nodeAffinity }}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            {{- toYaml . | nindent 12 }}
{{- end }}
{{- with $v.scheduling.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.podSecurityContext }}
# Default: the handbook's (the vLLM/SGLang images run as root and write the HF cache); podSecurityContext.
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.scheduling.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: {{ $v.engine.name }}
    image: {{ include "llm-model.image" (dict "image" $v.engine.image "context" $) | quote }}
    imagePullPolicy: {{ $v.engine.imagePullPolicy }}
    command:
      {{- toYaml (ternary $v.group.workerCommand $v.engine.command (and (eq $role "worker") (gt (len $v.group.workerCommand) 0))) | nindent 6 }}
    args:
      {{- toYaml (ternary $v.group.workerArgs $v.engine.args (eq $role "worker")) | nindent 6 }}
    {{- $cacheEnv := list }}
    {{- if $v.storage.cacheEnv }}
    {{- $given := list }}
    {{- range $v.engine.env }}{{ $given = append $given .name }}{{ end }}
    {{- $root := trimSuffix "/" $v.storage.mountPath }}
    {{- $wanted := list (dict "name" "HF_HOME" "value" (printf "%s/huggingface" $root)) }}
    {{- if eq $v.engine.name "vllm" }}
    {{- $wanted = append $wanted (dict "name" "VLLM_CACHE_ROOT" "value" (printf "%s/vllm" $root)) }}
    {{- end }}
    {{- range $wanted }}{{ if not (has .name $given) }}{{ $cacheEnv = append $cacheEnv . }}{{ end }}{{ end }}
    {{- end }}
    {{- if or $v.engine.hfTokenSecret.name $v.engine.env $cacheEnv }}
    env:
      {{- with $v.engine.hfTokenSecret }}
      {{- if .name }}
      # The token stays in the Secret; optional so public models start without one.
      - name: HF_TOKEN
        valueFrom:
          secretKeyRef:
            name: {{ .name }}
            key: {{ .key }}
            optional: true
      {{- end }}
      {{- end }}
      {{- with $cacheEnv }}
      # The caches live on the weights claim (storage.cacheEnv), whatever the namespace's ConfigMap says.
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with $v.engine.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- end }}
    {{- with $v.engine.configMapName }}
    envFrom:
      - configMapRef:
          name: {{ . }}
          # optional: a model installed before (or without) the llm-gateway chart still starts
          optional: true
    {{- end }}
    {{- if ne $role "worker" }}
    ports:
      - name: http
        containerPort: {{ $v.engine.port }}
        protocol: TCP
    {{- end }}
    resources:
      requests:
        cpu: {{ $v.resources.cpu | quote }}
        memory: {{ $v.resources.memoryRequest | quote }}
        {{- toYaml $gpu | nindent 8 }}
      limits:
        cpu: {{ $v.resources.cpu | quote }}
        memory: {{ $v.resources.memoryLimit | quote }}
        {{- toYaml $gpu | nindent 8 }}
    {{- with $v.securityContext }}
    securityContext:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if ne $role "worker" }}
    # Download + load + CUDA graph capture can take many minutes: the startup probe allows
    # ceil((weightBytes / downloadBytesPerSecond + loadSeconds) / periodSeconds) failures before a restart;
    # liveness and readiness only start counting once it has passed.
    startupProbe:
      httpGet:
        path: /health
        port: http
      periodSeconds: {{ int $v.probes.periodSeconds }}
      timeoutSeconds: 5
      failureThreshold: {{ include "llm-model.startupFailureThreshold" $ }}
    readinessProbe:
      httpGet:
        path: /health
        port: http
      periodSeconds: 10
      timeoutSeconds: 5
      failureThreshold: 3
    livenessProbe:
      httpGet:
        path: /health
        port: http
      periodSeconds: 30
      timeoutSeconds: 10
      failureThreshold: 5
    {{- end }}
    volumeMounts:
      - name: shm
        mountPath: /dev/shm
      - name: cache
        mountPath: {{ $v.storage.mountPath }}
        {{- with $v.storage.subPath }}
        subPath: {{ . }}
        {{- end }}
volumes:
  {{- if or (eq $role "single") $v.storage.existingClaim }}
  - name: cache
    persistentVolumeClaim:
      claimName: {{ include "llm-model.claimName" $ }}
  {{- end }}
  # NCCL and the engine's worker processes exchange tensors through /dev/shm; the container default is 64Mi.
  - name: shm
    emptyDir:
      medium: Memory
      sizeLimit: {{ $v.shm.sizeLimit | quote }}
{{- end -}}


{{/*
llm-model.podMetadata: labels and annotations of the engine Pods (Deployment template, LWS leader and worker
templates). podLabels first; the chart's own labels (selectors depend on them) are dropped from it and win.
Usage: {{- include "llm-model.podMetadata" (dict "ctx" $ "role" "leader") | nindent 6 }}  (role "" = none)
*/}}
{{- define "llm-model.podMetadata" -}}
{{- $ := .ctx -}}
labels:
  {{- with (omit $.Values.podLabels "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/part-of" "helm.sh/chart" "llm.nrp-nautilus.io/model" "llm.nrp-nautilus.io/role") }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- include "llm-model.labels" (dict "component" "inference" "context" $) | nindent 2 }}
  {{- with .role }}
  llm.nrp-nautilus.io/role: {{ . }}
  {{- end }}
annotations:
  {{- with (omit $.Values.podAnnotations "llm.nrp-nautilus.io/model-id") }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  llm.nrp-nautilus.io/model-id: {{ $.Values.model.id | quote }}
{{- end -}}
