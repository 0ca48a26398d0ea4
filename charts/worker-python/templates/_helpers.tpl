{{/*
worker-python specifics the platform-lib templates call by chart name.
*/}}

{{- define "worker-python.component" -}}
worker
{{- end -}}

{{- define "worker-python.containerPorts" -}}
- name: metrics
  containerPort: {{ .Values.metricsPort }}
  protocol: TCP
{{- end -}}

{{- define "worker-python.env" -}}
- name: METRICS_PORT
  value: {{ .Values.metricsPort | quote }}
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
- name: metrics
  port: {{ .Values.metricsPort }}
  targetPort: metrics
  protocol: TCP
{{- end -}}

{{- define "worker-python.metricsContainerPort" -}}
metrics
{{- end -}}
