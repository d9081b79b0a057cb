"""What the southbound counts for /metrics (controller/northbound/metrics.py serves them): the
OpenFlow messages it takes in and sends, the switches' refusals, and how long each reconcile
phase takes. Instruments on the controller's registry: counted as it happens, on whichever
thread it happens, each increment a lock of its own (no runtime lock)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

from controller.core.reconcile import Op, Phase

PHASE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ERROR_TYPES = {  # OpenFlow 1.3's ofp_error_type, as Prometheus labels
    0: 'hello_failed',
    1: 'bad_request',
    2: 'bad_action',
    3: 'bad_instruction',
    4: 'bad_match',
    5: 'flow_mod_failed',
    6: 'group_mod_failed',
    7: 'port_mod_failed',
    8: 'table_mod_failed',
    9: 'queue_op_failed',
    10: 'switch_config_failed',
    11: 'role_request_failed',
    12: 'meter_mod_failed',
    13: 'table_features_failed',
}


class OpenFlowFigures:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.packet_ins = Counter(
            'naas_openflow_packet_ins',
            'packet-ins taken in, by what they carried: lldp (probes), arp (tenant hosts), other',
            ['reason'],
            registry=registry,
        )
        self.changes = Counter(
            'naas_openflow_changes',
            'flow, meter and group changes sent to the switches',
            ['change'],
            registry=registry,
        )
        self.errors = Counter(
            'naas_openflow_errors',
            'error messages from the switches, by OpenFlow error type',
            ['type'],
            registry=registry,
        )
        self.rereads = Counter(
            'naas_openflow_switch_rereads',
            'switches read again because they refused a change or missed a barrier',
            registry=registry,
        )
        self.phases = Histogram(
            'naas_openflow_reconcile_phase_seconds',
            "a reconcile phase, from its first message to its switches' last barrier reply",
            ['phase'],
            buckets=PHASE_BUCKETS,
            registry=registry,
        )
        self._changes = {op: self.changes.labels(op.name.lower()) for op in Op}  # hot: labels looked up once
        self._phases = {phase: self.phases.labels(phase.name.lower()) for phase in Phase}

    def sent(self, op: Op, n: int = 1) -> None:
        self._changes[op].inc(n)

    def phase_took(self, phase: Phase, seconds: float) -> None:
        self._phases[phase].observe(seconds)

    def error(self, error_type: int) -> None:
        self.errors.labels(ERROR_TYPES.get(error_type, str(error_type))).inc()
