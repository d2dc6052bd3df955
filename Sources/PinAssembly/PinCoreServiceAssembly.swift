import CoreMetrics
import Logging
import PinCore
import PinStore
import PinWebhooks
import PinWire

// The one place that chooses the real infrastructure for the core. It is a module of its own
// because it is the only code that may depend on the domain and on every infrastructure module
// at once: PinCore declares the protocols and must not see SQLite or libcurl, PinStore and
// PinWebhooks implement them and must not see each other, and both the daemon and the tests
// build their cores here, so they run the same wiring.

extension CoreInfrastructure {
    /// The daemon's infrastructure: the SQLite state database in the state directory
    /// (`pinlease.db`, group-committed lease journal), libcurl webhook delivery, and PinWire's
    /// JSON form of events as webhook bodies.
    package static let standard = standard(metrics: NOOPMetricsHandler.instance)

    /// ``standard``, with the core's and the store's metrics made by `metrics`.
    package static func standard(metrics: any MetricsFactory) -> CoreInfrastructure {
        CoreInfrastructure(
            openFileRecords: { directory throws(CoreError) in try StateStore(directory: directory) },
            openLeaseJournal: { directory throws(CoreError) in try LeaseStore(directory: directory, metrics: metrics) },
            makeWebhookTransport: { configuration, logger, reports in
                WebhookSender(configuration: configuration, logger: logger, reports: reports)
            },
            webhookBody: { event in event.webhookBody }, metrics: metrics)
    }
}

extension PinCoreService {
    /// Opens the core on the ``CoreInfrastructure/standard`` infrastructure (see
    /// ``PinCoreService/init(configuration:logger:infrastructure:)`` for what start-up does).
    public convenience init(configuration: CoreConfiguration, logger: Logger) throws(CoreError) {
        try self.init(configuration: configuration, logger: logger, infrastructure: .standard)
    }

    /// Opens the core on the standard infrastructure, its metrics (and the store's) made by `metrics`.
    package convenience init(
        configuration: CoreConfiguration, logger: Logger, metrics: any MetricsFactory
    ) throws(CoreError) {
        try self.init(configuration: configuration, logger: logger, infrastructure: .standard(metrics: metrics))
    }
}
