-- wrk script: each connection waits 1 ms between requests, which holds the total
-- rate near half of what the service reaches unpaced with 50 connections.
function delay()
  return 1
end
