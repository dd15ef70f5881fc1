//! Deprecated and removed Kubernetes APIs: the facts table and the scanners.
