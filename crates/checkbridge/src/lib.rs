//! checkbridge: the service that connects PageUp background-check requests to Theary.
