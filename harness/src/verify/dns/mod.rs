//! The cluster's service discovery as clients inside it see it: names resolved from a pod.

pub mod service;
