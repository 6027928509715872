"""What serves many app sessions: jobs, the work queue, batching, session folders, model stores, downloads, and
the exports the browser's Listen view loads."""
