import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AutomationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTOMATION_TYPE_UNSPECIFIED: _ClassVar[AutomationType]
    AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT: _ClassVar[AutomationType]
    AUTOMATION_TYPE_BOOKING_CONFIRMATION: _ClassVar[AutomationType]
    AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER: _ClassVar[AutomationType]
    AUTOMATION_TYPE_SITTER_ASSIGNMENT: _ClassVar[AutomationType]
    AUTOMATION_TYPE_PAYMENT_REMINDER: _ClassVar[AutomationType]
    AUTOMATION_TYPE_POST_VISIT_THANK_YOU: _ClassVar[AutomationType]

class Recipient(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECIPIENT_UNSPECIFIED: _ClassVar[Recipient]
    RECIPIENT_CLIENT: _ClassVar[Recipient]
    RECIPIENT_OWNER: _ClassVar[Recipient]
    RECIPIENT_SITTER: _ClassVar[Recipient]

class BookingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOKING_STATUS_UNSPECIFIED: _ClassVar[BookingStatus]
    BOOKING_STATUS_REQUESTED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CONFIRMED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CANCELLED: _ClassVar[BookingStatus]
    BOOKING_STATUS_COMPLETED: _ClassVar[BookingStatus]
AUTOMATION_TYPE_UNSPECIFIED: AutomationType
AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT: AutomationType
AUTOMATION_TYPE_BOOKING_CONFIRMATION: AutomationType
AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER: AutomationType
AUTOMATION_TYPE_SITTER_ASSIGNMENT: AutomationType
AUTOMATION_TYPE_PAYMENT_REMINDER: AutomationType
AUTOMATION_TYPE_POST_VISIT_THANK_YOU: AutomationType
RECIPIENT_UNSPECIFIED: Recipient
RECIPIENT_CLIENT: Recipient
RECIPIENT_OWNER: Recipient
RECIPIENT_SITTER: Recipient
BOOKING_STATUS_UNSPECIFIED: BookingStatus
BOOKING_STATUS_REQUESTED: BookingStatus
BOOKING_STATUS_CONFIRMED: BookingStatus
BOOKING_STATUS_CANCELLED: BookingStatus
BOOKING_STATUS_COMPLETED: BookingStatus

class Client(_message.Message):
    __slots__ = ("first_name", "last_name", "phone", "email")
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    first_name: str
    last_name: str
    phone: str
    email: str
    def __init__(self, first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., phone: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class Sitter(_message.Message):
    __slots__ = ("id", "name", "phone")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    phone: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class Pet(_message.Message):
    __slots__ = ("name", "species")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPECIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    species: str
    def __init__(self, name: _Optional[str] = ..., species: _Optional[str] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("currency_code", "amount_minor")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    amount_minor: int
    def __init__(self, currency_code: _Optional[str] = ..., amount_minor: _Optional[int] = ...) -> None: ...

class Booking(_message.Message):
    __slots__ = ("id", "version", "status", "client", "sitter", "service_name", "start_at", "end_at", "timezone", "pets", "address", "total_price", "paid", "notes")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    SITTER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    PETS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: int
    status: BookingStatus
    client: Client
    sitter: Sitter
    service_name: str
    start_at: _timestamp_pb2.Timestamp
    end_at: _timestamp_pb2.Timestamp
    timezone: str
    pets: _containers.RepeatedCompositeFieldContainer[Pet]
    address: str
    total_price: Money
    paid: bool
    notes: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., client: _Optional[_Union[Client, _Mapping]] = ..., sitter: _Optional[_Union[Sitter, _Mapping]] = ..., service_name: _Optional[str] = ..., start_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timezone: _Optional[str] = ..., pets: _Optional[_Iterable[_Union[Pet, _Mapping]]] = ..., address: _Optional[str] = ..., total_price: _Optional[_Union[Money, _Mapping]] = ..., paid: _Optional[bool] = ..., notes: _Optional[str] = ...) -> None: ...

class EnqueueAutomationRequest(_message.Message):
    __slots__ = ("automation_type", "recipient", "booking", "idempotency_key", "due_at")
    AUTOMATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    automation_type: AutomationType
    recipient: Recipient
    booking: Booking
    idempotency_key: str
    due_at: _timestamp_pb2.Timestamp
    def __init__(self, automation_type: _Optional[_Union[AutomationType, str]] = ..., recipient: _Optional[_Union[Recipient, str]] = ..., booking: _Optional[_Union[Booking, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnqueueAutomationResponse(_message.Message):
    __slots__ = ("job_id", "idempotency_key", "duplicate", "topic", "partition", "offset", "due_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    idempotency_key: str
    duplicate: bool
    topic: str
    partition: int
    offset: int
    due_at: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., duplicate: _Optional[bool] = ..., topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnqueueAutomationsRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[EnqueueAutomationRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[EnqueueAutomationRequest, _Mapping]]] = ...) -> None: ...

class EnqueueItemResult(_message.Message):
    __slots__ = ("accepted", "error")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    accepted: EnqueueAutomationResponse
    error: _status_pb2.Status
    def __init__(self, accepted: _Optional[_Union[EnqueueAutomationResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class EnqueueAutomationsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EnqueueItemResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EnqueueItemResult, _Mapping]]] = ...) -> None: ...

class CancelAutomationsRequest(_message.Message):
    __slots__ = ("booking_id", "automation_types")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    AUTOMATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    automation_types: _containers.RepeatedScalarFieldContainer[AutomationType]
    def __init__(self, booking_id: _Optional[str] = ..., automation_types: _Optional[_Iterable[_Union[AutomationType, str]]] = ...) -> None: ...

class CancelAutomationsResponse(_message.Message):
    __slots__ = ("cancelled_at", "cancelled_runs")
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_RUNS_FIELD_NUMBER: _ClassVar[int]
    cancelled_at: _timestamp_pb2.Timestamp
    cancelled_runs: _containers.RepeatedCompositeFieldContainer[AutomationRun]
    def __init__(self, cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_runs: _Optional[_Iterable[_Union[AutomationRun, _Mapping]]] = ...) -> None: ...

class AutomationRun(_message.Message):
    __slots__ = ("id", "job_id", "idempotency_key", "automation_type", "recipient", "booking_id", "status", "attempt", "started_at", "finished_at", "duration_ms", "error", "error_class", "inputs", "outputs", "replay_of", "kafka_topic", "kafka_partition", "kafka_offset")
    ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    AUTOMATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    REPLAY_OF_FIELD_NUMBER: _ClassVar[int]
    KAFKA_TOPIC_FIELD_NUMBER: _ClassVar[int]
    KAFKA_PARTITION_FIELD_NUMBER: _ClassVar[int]
    KAFKA_OFFSET_FIELD_NUMBER: _ClassVar[int]
    id: int
    job_id: str
    idempotency_key: str
    automation_type: str
    recipient: str
    booking_id: str
    status: str
    attempt: int
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration_ms: float
    error: str
    error_class: str
    inputs: _struct_pb2.Struct
    outputs: _struct_pb2.Struct
    replay_of: str
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int
    def __init__(self, id: _Optional[int] = ..., job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., automation_type: _Optional[str] = ..., recipient: _Optional[str] = ..., booking_id: _Optional[str] = ..., status: _Optional[str] = ..., attempt: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[float] = ..., error: _Optional[str] = ..., error_class: _Optional[str] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., outputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., replay_of: _Optional[str] = ..., kafka_topic: _Optional[str] = ..., kafka_partition: _Optional[int] = ..., kafka_offset: _Optional[int] = ...) -> None: ...

class GetAutomationRunsRequest(_message.Message):
    __slots__ = ("job_id", "idempotency_key", "booking_id", "page_size", "page_token")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    idempotency_key: str
    booking_id: str
    page_size: int
    page_token: str
    def __init__(self, job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., booking_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetAutomationRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[AutomationRun]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[AutomationRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeadLetterFilter(_message.Message):
    __slots__ = ("automation_types", "error_classes", "booking_id", "since", "until", "include_replayed")
    AUTOMATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASSES_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    automation_types: _containers.RepeatedScalarFieldContainer[AutomationType]
    error_classes: _containers.RepeatedScalarFieldContainer[str]
    booking_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    include_replayed: bool
    def __init__(self, automation_types: _Optional[_Iterable[_Union[AutomationType, str]]] = ..., error_classes: _Optional[_Iterable[str]] = ..., booking_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., include_replayed: _Optional[bool] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("run", "replayed_as_job_id")
    RUN_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_AS_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    run: AutomationRun
    replayed_as_job_id: str
    def __init__(self, run: _Optional[_Union[AutomationRun, _Mapping]] = ..., replayed_as_job_id: _Optional[str] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: DeadLetterFilter
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[DeadLetterFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("dead_letters", "next_page_token")
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[DeadLetter]
    next_page_token: str
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[DeadLetter, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReplayDeadLettersRequest(_message.Message):
    __slots__ = ("filter", "dry_run", "max_per_second", "limit")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    filter: DeadLetterFilter
    dry_run: bool
    max_per_second: float
    limit: int
    def __init__(self, filter: _Optional[_Union[DeadLetterFilter, _Mapping]] = ..., dry_run: _Optional[bool] = ..., max_per_second: _Optional[float] = ..., limit: _Optional[int] = ...) -> None: ...

class ReplayedJob(_message.Message):
    __slots__ = ("original_job_id", "new_job_id", "idempotency_key", "automation_type", "booking_id")
    ORIGINAL_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    AUTOMATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    original_job_id: str
    new_job_id: str
    idempotency_key: str
    automation_type: str
    booking_id: str
    def __init__(self, original_job_id: _Optional[str] = ..., new_job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., automation_type: _Optional[str] = ..., booking_id: _Optional[str] = ...) -> None: ...

class ReplayDeadLettersResponse(_message.Message):
    __slots__ = ("replayed", "remaining", "dry_run")
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    replayed: _containers.RepeatedCompositeFieldContainer[ReplayedJob]
    remaining: int
    dry_run: bool
    def __init__(self, replayed: _Optional[_Iterable[_Union[ReplayedJob, _Mapping]]] = ..., remaining: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class PauseScope(_message.Message):
    __slots__ = ("automation_types", "channels", "everything")
    AUTOMATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    EVERYTHING_FIELD_NUMBER: _ClassVar[int]
    automation_types: _containers.RepeatedScalarFieldContainer[AutomationType]
    channels: _containers.RepeatedScalarFieldContainer[str]
    everything: bool
    def __init__(self, automation_types: _Optional[_Iterable[_Union[AutomationType, str]]] = ..., channels: _Optional[_Iterable[str]] = ..., everything: _Optional[bool] = ...) -> None: ...

class Pause(_message.Message):
    __slots__ = ("scope", "value", "reason", "paused_by", "paused_at")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PAUSED_BY_FIELD_NUMBER: _ClassVar[int]
    PAUSED_AT_FIELD_NUMBER: _ClassVar[int]
    scope: str
    value: str
    reason: str
    paused_by: str
    paused_at: _timestamp_pb2.Timestamp
    def __init__(self, scope: _Optional[str] = ..., value: _Optional[str] = ..., reason: _Optional[str] = ..., paused_by: _Optional[str] = ..., paused_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PauseAutomationsRequest(_message.Message):
    __slots__ = ("scope", "reason")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scope: PauseScope
    reason: str
    def __init__(self, scope: _Optional[_Union[PauseScope, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class PauseAutomationsResponse(_message.Message):
    __slots__ = ("paused", "pauses")
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    PAUSES_FIELD_NUMBER: _ClassVar[int]
    paused: _containers.RepeatedCompositeFieldContainer[Pause]
    pauses: _containers.RepeatedCompositeFieldContainer[Pause]
    def __init__(self, paused: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ..., pauses: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ...) -> None: ...

class ResumeAutomationsRequest(_message.Message):
    __slots__ = ("scope", "reason")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scope: PauseScope
    reason: str
    def __init__(self, scope: _Optional[_Union[PauseScope, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ResumeAutomationsResponse(_message.Message):
    __slots__ = ("resumed", "pauses")
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    PAUSES_FIELD_NUMBER: _ClassVar[int]
    resumed: _containers.RepeatedCompositeFieldContainer[Pause]
    pauses: _containers.RepeatedCompositeFieldContainer[Pause]
    def __init__(self, resumed: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ..., pauses: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ...) -> None: ...

class ListPausesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPausesResponse(_message.Message):
    __slots__ = ("pauses",)
    PAUSES_FIELD_NUMBER: _ClassVar[int]
    pauses: _containers.RepeatedCompositeFieldContainer[Pause]
    def __init__(self, pauses: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ...) -> None: ...

class AutomationJob(_message.Message):
    __slots__ = ("job_id", "idempotency_key", "request", "attempt", "enqueued_at", "due_at", "replay_of", "paused_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    REPLAY_OF_FIELD_NUMBER: _ClassVar[int]
    PAUSED_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    idempotency_key: str
    request: EnqueueAutomationRequest
    attempt: int
    enqueued_at: _timestamp_pb2.Timestamp
    due_at: _timestamp_pb2.Timestamp
    replay_of: str
    paused_at: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., request: _Optional[_Union[EnqueueAutomationRequest, _Mapping]] = ..., attempt: _Optional[int] = ..., enqueued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replay_of: _Optional[str] = ..., paused_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
