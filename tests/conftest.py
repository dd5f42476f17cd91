pytest_plugins = ["testio_async.sandbox.pytest_plugin"]
