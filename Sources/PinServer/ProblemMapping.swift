import Logging
import PinCore
import PinWire

/// The one place that decides which HTTP status each kind of failure gets, and how any
/// thrown error becomes a ``Problem``.
enum ProblemMapping {
    /// The HTTP status of a core error code. Exhaustive on purpose: a new code must be mapped here.
    static func status(for code: CoreErrorCode) -> Int {
        switch code {
        case .invalidPath, .absolutePath, .pathTraversal, .unknownRoot, .symlinkInPath, .crossesMount,
            .isADirectory, .isADevice, .isAFifo, .isASocket,
            .invalidSize, .sizeRequired, .wouldTruncate, .unsupportedFilesystem,
            .unalignedRange, .invalidRange, .longTermRefused,
            .invalidTTL, .invalidGrace, .invalidWebhookURL, .webhookNotAllowed, .invalidHolder:
            422
        case .notFound, .operationNotFound, .pinNotFound, .leaseNotFound, .deliveryNotFound:
            404
        case .peerNotAllowed:
            403
        case .notReady, .fileLocked, .fileImmutable, .writersPresent, .notLocked, .fileChanged, .busy,
            .readOnlyFilesystem, .cancelled, .lockDegraded, .writeNeedsDaemonWriters, .writesRefusedByFilesystem,
            .pinInUse, .pinsExist, .pinNotActive, .leaseNotActive, .fileViolated, .hardLinked:
            409
        case .eventsExpired:
            410
        case .noSpace, .stateFull, .pinBudgetExceeded, .memoryLockFailed:
            507
        case .missingCapability, .systemError:
            500
        case .draining:
            503
        }
    }

    /// The HTTP status of a server-only problem code.
    static func status(for code: ServerProblemCode) -> Int {
        switch code {
        case .invalidJSON, .invalidRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFoundRoute: 404
        case .methodNotAllowed: 405
        case .bodyTooLarge: 413
        case .unsupportedMediaType: 415
        case .invalidBody, .invalidQuery: 422
        case .daemonNotReady, .shuttingDown: 503
        }
    }

    /// The problem for a core error, keeping its detail and extensions.
    static func problem(for error: CoreError) -> Problem {
        Problem(
            code: error.code.rawValue, title: error.code.title, status: status(for: error.code),
            detail: error.detail, extensions: error.extensions.json)
    }

    /// The problem for anything a handler threw. Errors that are neither a ``Problem`` nor a
    /// `CoreError` are logged and answered with a 500 that does not reveal them.
    static func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let coreError as CoreError:
            return problem(for: coreError)
        default:
            logger.error("unexpected error in request handler", metadata: ["error": "\(String(reflecting: error))"])
            let code = CoreErrorCode.systemError
            return Problem(
                code: code.rawValue, title: code.title, status: status(for: code),
                detail: "The daemon hit an internal error; see its log for details.")
        }
    }
}
