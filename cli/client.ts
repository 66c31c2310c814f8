// The CLI's only way to act: HTTP requests to netloomd over its unix socket (shared with lab/).
export { api, ApiError, call, type Reply } from '../common/client.js';
