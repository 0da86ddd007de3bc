import datetime

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
    __slots__ = ("cancelled_at",)
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    cancelled_at: _timestamp_pb2.Timestamp
    def __init__(self, cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AutomationJob(_message.Message):
    __slots__ = ("job_id", "idempotency_key", "request", "attempt", "enqueued_at", "due_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    idempotency_key: str
    request: EnqueueAutomationRequest
    attempt: int
    enqueued_at: _timestamp_pb2.Timestamp
    due_at: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., request: _Optional[_Union[EnqueueAutomationRequest, _Mapping]] = ..., attempt: _Optional[int] = ..., enqueued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
