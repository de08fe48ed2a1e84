// A live feed that survives real life: Wi-Fi drops, phones sleeping, servers restarting.
//
// Reconnects with jittered exponential backoff (so that 300 phones returning
// at once do not arrive at once), resumes a branch feed from the last version
// it saw, notices silence (heartbeats stop) and reports "online"/"offline",
// and reconnects at once when a sleeping phone wakes up.

const HEARTBEAT_GRACE_MS = 25000;
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 30000;

export function connectLive(path, { onMessage, onStatus = () => {}, resume = false }) {
  let socket = null;
  let attempt = 0;
  let version = null;
  let day = null;
  let watchdog = null;
  let retry = null;
  let stopped = false;

  function address() {
    const url = new URL(path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (resume && version !== null) {
      url.searchParams.set("since", version);
      url.searchParams.set("day", day);
    }
    return url;
  }

  function arm() {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      onStatus("offline");
      if (socket) socket.close();
    }, HEARTBEAT_GRACE_MS);
  }

  function open() {
    clearTimeout(retry);
    socket = new WebSocket(address());
    socket.onopen = () => {
      attempt = 0;
      onStatus("online");
      arm();
    };
    socket.onmessage = (event) => {
      arm();
      const message = JSON.parse(event.data);
      if (message.type === "heartbeat") return;
      if (message.type === "change" && version !== null && message.day === day && message.from !== version + 1) {
        // A gap: reconnect and let the server send what is missing.
        socket.close();
        return;
      }
      if (typeof message.version === "number") version = message.version;
      if (message.day) day = message.day;
      onMessage(message);
    };
    socket.onclose = (event) => {
      clearTimeout(watchdog);
      if (stopped) return;
      if (event.code === 4404) {
        onStatus("gone");
        return;
      }
      onStatus("offline");
      const ceiling = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
      attempt += 1;
      retry = setTimeout(open, ceiling / 2 + Math.random() * (ceiling / 2));
    };
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !stopped && (!socket || socket.readyState > WebSocket.OPEN)) {
      attempt = 0;
      open();
    }
  });

  open();
  return {
    close() {
      stopped = true;
      clearTimeout(watchdog);
      clearTimeout(retry);
      if (socket) socket.close();
    },
  };
}
