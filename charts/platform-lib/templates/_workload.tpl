{{/*
Deployment, Service, ServiceAccount and PodDisruptionBudget of a platform-ops application.
The calling chart supplies its ports, environment and component through the defines listed in
this chart's README; everything security-relevant is fixed here so no environment can loosen it.
*/}}

{{/*
UID/GID the images declare with USER 65532:65532 (the distroless "nonroot" user). Pinned in the
pod spec too, so the restricted Pod Security level holds even if an image ever lost its USER.
*/}}
{{- define "platform-lib.runAsId" -}}
65532
{{- end -}}

{{- define "platform-lib.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "platform-lib.metadata" . | nindent 2 }}
spec:
  replicas: {{ .Values.replicaCount }}
  revisionHistoryLimit: {{ .Values.revisionHistoryLimit }}
  selector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # A new pod must be Ready before an old one goes: capacity never drops during a rollout.
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "platform-lib.labels" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "platform-lib.fullname" . }}
      # The apps never call the Kubernetes API.
      automountServiceAccountToken: false
      # The apps are configured by explicit env only; docker-link style variables such as
      # CORE_GO_PORT=tcp://... would only add noise.
      enableServiceLinks: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ include "platform-lib.runAsId" . }}
        runAsGroup: {{ include "platform-lib.runAsId" . }}
        seccompProfile:
          type: RuntimeDefault
      {{- if gt (int .Values.replicaCount) 1 }}
      topologySpreadConstraints:
        # Soft spread over nodes: a small cluster must still be able to roll out.
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "platform-lib.selectorLabels" . | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
      {{- end }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "platform-lib.image" . | quote }}
          # Tags are immutable commit SHAs or digests: a cached image is always the right one.
          imagePullPolicy: IfNotPresent
          ports:
            {{- include (printf "%s.containerPorts" .Chart.Name) . | nindent 12 }}
          env:
            {{- include (printf "%s.env" .Chart.Name) . | nindent 12 }}
          livenessProbe:
            httpGet:
              path: {{ .Values.probes.path }}
              port: {{ .Values.probes.port }}
            {{- toYaml .Values.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet:
              path: {{ .Values.probes.path }}
              port: {{ .Values.probes.port }}
            {{- toYaml .Values.probes.readiness | nindent 12 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            privileged: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            runAsUser: {{ include "platform-lib.runAsId" . }}
            runAsGroup: {{ include "platform-lib.runAsId" . }}
            capabilities:
              drop:
                - ALL
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            # The root filesystem is read-only; runtimes still expect a writable /tmp.
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{- define "platform-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "platform-lib.metadata" . | nindent 2 }}
spec:
  type: ClusterIP
  selector:
    {{- include "platform-lib.selectorLabels" . | nindent 4 }}
  ports:
    {{- include (printf "%s.servicePorts" .Chart.Name) . | nindent 4 }}
{{- end -}}

{{- define "platform-lib.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "platform-lib.metadata" . | nindent 2 }}
automountServiceAccountToken: false
{{- end -}}

{{/*
Only with more than one replica: with a single pod, a PDB would either block node drains
(maxUnavailable 0) or promise nothing.
*/}}
{{- define "platform-lib.podDisruptionBudget" -}}
{{- if gt (int .Values.replicaCount) 1 -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "platform-lib.metadata" . | nindent 2 }}
spec:
  maxUnavailable: 1
  # A pod that is not Ready serves nothing; evicting it must not be blocked.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "platform-lib.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}


{{/*
The "metrics" container port, its METRICS_PORT variable and its Service port: what every app
chart puts into its containerPorts, env and servicePorts.
*/}}
{{- define "platform-lib.metricsContainerPort" -}}
- name: {{ include "platform-lib.metricsPortName" . }}
  containerPort: {{ include "platform-lib.metricsPort" . }}
  protocol: TCP
{{- end -}}

{{- define "platform-lib.metricsEnv" -}}
- name: METRICS_PORT
  value: {{ include "platform-lib.metricsPort" . | quote }}
{{- end -}}

{{- define "platform-lib.metricsServicePort" -}}
- name: {{ include "platform-lib.metricsPortName" . }}
  port: {{ include "platform-lib.metricsPort" . }}
  targetPort: {{ include "platform-lib.metricsPortName" . }}
  protocol: TCP
{{- end -}}
