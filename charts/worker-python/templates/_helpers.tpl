{{/*
worker-python specifics the platform-lib templates call by chart name.
*/}}

{{- define "worker-python.component" -}}
worker
{{- end -}}

{{- define "worker-python.containerPorts" -}}
{{ include "platform-lib.metricsContainerPort" . }}
{{- end -}}

{{- define "worker-python.env" -}}
{{ include "platform-lib.metricsEnv" . }}
- name: JOB_INTERVAL_SECONDS
  value: {{ .Values.jobIntervalSeconds | quote }}
- name: ENV
  value: {{ .Values.environment | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}

{{/*
The worker serves nothing but metrics: one Service port, "metrics", for Prometheus discovery.
*/}}
{{- define "worker-python.servicePorts" -}}
{{ include "platform-lib.metricsServicePort" . }}
{{- end -}}
