"""What every external provider needs (channels, suppliers, trackers): the HTTP client, provider
errors, field readers, signatures and secret encryption. No models; imports no app of ours."""
