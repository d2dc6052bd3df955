import CoreMetrics
import Logging

/// How a ``PinCoreService`` obtains what it keeps outside memory: the durable state and the
/// webhook transport. The core calls each factory at the point of its start-up where it used
/// to open that collaborator itself, so the order of start-up (and its errors) is unchanged.
/// The real ones (SQLite, libcurl) are assembled in the `PinAssembly` module, the one place
/// that depends on every infrastructure module; unit tests may pass in-memory ones.
package struct CoreInfrastructure: Sendable {
    /// Opens the lock, pin and operation records kept in the state directory.
    package var openFileRecords: @Sendable (_ stateDirectory: String) throws(CoreError) -> any FileRecordStore
    /// Opens the lease journal kept in the state directory.
    package var openLeaseJournal: @Sendable (_ stateDirectory: String) throws(CoreError) -> any LeaseJournal
    package var makeWebhookTransport: WebhookTransportFactory
    /// Writes the body of each webhook message (the JSON form of its event).
    package var webhookBody: EventBodyEncoder
    /// Where the core's metrics go (swift-metrics' API; the daemon passes its Prometheus
    /// exporter's factory). The global `MetricsSystem` is never used.
    package var metrics: any MetricsFactory

    package init(
        openFileRecords: @escaping @Sendable (_ stateDirectory: String) throws(CoreError) -> any FileRecordStore,
        openLeaseJournal: @escaping @Sendable (_ stateDirectory: String) throws(CoreError) -> any LeaseJournal,
        makeWebhookTransport: @escaping WebhookTransportFactory,
        webhookBody: @escaping EventBodyEncoder,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.webhookBody = webhookBody
        self.metrics = metrics
        self.openFileRecords = openFileRecords
        self.openLeaseJournal = openLeaseJournal
        self.makeWebhookTransport = makeWebhookTransport
    }
}
