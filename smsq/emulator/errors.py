"""One exception class per Dypnsapi / POP-gateway error code the emulator answers with.

Every error carries the wire ``code``, the HTTP ``status`` it travels with and a default message::

    EmulatorError                 root; never raised itself
     ├ GatewayError               HTTP 4xx/5xx JSON error (the SDK raises Client/Server/ThrottlingException)
     │  ├ auth: InvalidAccessKeyIdNotFound, SignatureDoesNotMatch, IncompleteSignature,
     │  │       InvalidSignatureMethod, InvalidTimeStampFormat, InvalidTimeStampExpired, SignatureNonceUsed
     │  ├ request: MissingParameter, InvalidParameter, InvalidActionNotFound, InvalidApiNotFound,
     │  │          InvalidVersion, UnsupportedHTTPMethod, BadRequest, RequestTooLarge
     │  ├ transient: ThrottlingUser, InternalError, ServiceUnavailable
     │  └ the emulator's own controls: ControlsForbidden, ControlsUnauthorized
     └ BusinessError              HTTP 200, ``Success: false`` and a body ``Code`` (the SDK does not raise)
        MobileNumberIllegal, BizFrequency, BusinessLimitControl, SignNameNotExist,
        TemplateIllegal, InvalidParameters
"""

from __future__ import annotations

from typing import ClassVar


class EmulatorError(Exception):
    """Raised when a request must be answered with a Dypnsapi error instead of a result."""

    code: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "The request processing has failed due to some unknown error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def wire_code(self) -> str:
        """The ``Code`` this error travels with on the wire."""
        return self.code


class GatewayError(EmulatorError):
    """Raised when the POP gateway refuses the request with an HTTP error status."""


class BusinessError(EmulatorError):
    """Raised when the product refuses the request in an HTTP 200 body (``Success: false``)."""

    status: ClassVar[int] = 200


# --- authentication (the gateway) ------------------------------------------------------------


class InvalidAccessKeyIdNotFound(GatewayError):
    """Raised when the AccessKey id is unknown."""

    code = "InvalidAccessKeyId.NotFound"
    status = 404
    default_message = "Specified access key is not found."


class SignatureDoesNotMatch(GatewayError):
    """Raised when the signature differs from the one the emulator computes."""

    code = "SignatureDoesNotMatch"
    status = 400
    default_message = "Specified signature does not match our calculation."


class IncompleteSignature(GatewayError):
    """Raised when the signature, or a header it must cover, is missing or malformed."""

    code = "IncompleteSignature"
    status = 400
    default_message = "The request signature does not conform to Aliyun standards."


class InvalidSignatureMethod(GatewayError):
    """Raised when the signature algorithm is not one the emulator verifies."""

    code = "InvalidSignatureMethod"
    status = 400
    default_message = "Specified signature method is not valid."


class InvalidTimeStampFormat(GatewayError):
    """Raised when ``x-acs-date`` / ``Timestamp`` is not ``YYYY-MM-DDThh:mm:ssZ``."""

    code = "InvalidTimeStamp.Format"
    status = 400
    default_message = "Specified time stamp or date value is not well formatted."


class InvalidTimeStampExpired(GatewayError):
    """Raised when the request time is more than 15 minutes away from the server's."""

    code = "InvalidTimeStamp.Expired"
    status = 400
    default_message = "Specified time stamp or date value is expired."


class SignatureNonceUsed(GatewayError):
    """Raised when a signature nonce is seen twice inside the replay window."""

    code = "SignatureNonceUsed"
    status = 400
    default_message = "Specified signature nonce was used already."


# --- the request itself ----------------------------------------------------------------------


class MissingParameter(GatewayError):
    """Raised when a required parameter is absent; the code names it (``MissingPhoneNumber``)."""

    status = 400

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is mandatory for this action.")
        self.name = name

    @property
    def wire_code(self) -> str:
        """The per-parameter code, e.g. ``MissingPhoneNumber``."""
        return f"Missing{self.name}"


class InvalidParameter(GatewayError):
    """Raised when a parameter has the wrong type or is out of its documented range."""

    code = "InvalidParameter"
    status = 400
    default_message = "The specified parameter is not valid."


class InvalidActionNotFound(GatewayError):
    """Raised when the action is not one this API version has."""

    code = "InvalidAction.NotFound"
    status = 404
    default_message = "Specified api is not found, please check your url and method."


class InvalidApiNotFound(GatewayError):
    """Raised for a path that is neither ``/`` nor one of the emulator's controls."""

    code = "InvalidApi.NotFound"
    status = 404
    default_message = "Specified api is not found, please check your url and method."


class InvalidVersion(GatewayError):
    """Raised when the API version is not 2017-05-25."""

    code = "InvalidVersion"
    status = 400
    default_message = "Specified parameter Version is not valid."


class UnsupportedHTTPMethod(GatewayError):
    """Raised for an HTTP method the endpoint does not serve."""

    code = "UnsupportedHTTPMethod"
    status = 400
    default_message = "This http method is not supported."


class BadRequest(GatewayError):
    """Raised when the request cannot be parsed (bad HTTP, bad encoding, bad JSON)."""

    code = "BadRequest"
    status = 400
    default_message = "The request could not be parsed."


class RequestTooLarge(GatewayError):
    """Raised when the request body exceeds the emulator's 64 KiB limit."""

    code = "RequestEntityTooLarge"
    status = 413
    default_message = "The request body is larger than 65536 bytes."


# --- transient (flow control and server faults) -----------------------------------------------


class ThrottlingUser(GatewayError):
    """Raised when a key exceeds its requests-per-second flow control."""

    code = "Throttling.User"
    status = 400
    default_message = "Request was denied due to user flow control."


class InternalError(GatewayError):
    """Raised for an (injected) unknown server error."""

    code = "InternalError"
    status = 500


class ServiceUnavailable(GatewayError):
    """Raised for an (injected) temporary failure."""

    code = "ServiceUnavailable"
    status = 503
    default_message = "The request has failed due to a temporary failure of the server."


# --- the emulator's own controls (not cloud codes: Alibaba has no /_emulator/) -------------------


class ControlsForbidden(GatewayError):
    """Raised when a peer beyond loopback calls a control and the emulator has no control token."""

    code = "Forbidden.EmulatorControls"
    status = 403
    default_message = (
        "The emulator's controls answer loopback clients only; start it with --control-token to allow others."
    )


class ControlsUnauthorized(GatewayError):
    """Raised when the emulator has a control token and the request does not carry it."""

    code = "Unauthorized.EmulatorControls"
    status = 401
    default_message = "The emulator's controls need the header Authorization: Bearer <control token>."


# --- product business outcomes (HTTP 200) -----------------------------------------------------


class MobileNumberIllegal(BusinessError):
    """Raised when the number is not a mainland-China mobile number."""

    code = "MOBILE_NUMBER_ILLEGAL"
    default_message = "The mobile number is illegal."


class BizFrequency(BusinessError):
    """Raised when the same number is sent to again inside the previous send's ``Interval``."""

    code = "biz.FREQUENCY"
    default_message = "check frequency failed"


class BusinessLimitControl(BusinessError):
    """Raised when the number has reached its daily cap of accepted sends."""

    code = "BUSINESS_LIMIT_CONTROL"
    default_message = "The number has exceeded the limit for the day."


class SignNameNotExist(BusinessError):
    """Raised when the sign name is not one of the preset (gifted) signatures."""

    code = "SmsSignNameNotExist"
    default_message = "The sign name does not exist or is not a preset signature."


class TemplateIllegal(BusinessError):
    """Raised when the template code is not one of the preset templates."""

    code = "isv.SMS_TEMPLATE_ILLEGAL"
    default_message = "The template does not exist or is not a preset template."


class InvalidParameters(BusinessError):
    """Raised when TemplateParam does not match the template's variables, or CountryCode is not 86."""

    code = "INVALID_PARAMETERS"
    default_message = "template content and template params do not match"
