/* skyfence map: start the first requests before the libraries load. The server computes the
   activation layer while the browser parses Leaflet and h3-js; map.js takes these answers
   (once each) instead of asking again. Only this page's own origin is asked. */
(function (global) {
  "use strict";
  var token = global.sessionStorage.getItem("skyfence-token") || "";
  var requests = { "/map/static/basemap.json": fetch("/map/static/basemap.json") };
  if (token) {
    var headers = { Authorization: "Bearer " + token };
    ["/v1/map/legend", "/v1/map/schedule", "/v1/map/cells/activation"].forEach(function (path) {
      requests[path] = fetch(path, { headers: headers });
    });
  }
  // a failed request is the page's to report (map.js asks again): no unhandled rejection here
  Object.keys(requests).forEach(function (k) { requests[k].catch(function () {}); });
  global.skyfenceBoot = { token: token, requests: requests };
})(window);
