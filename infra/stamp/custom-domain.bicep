// The custom domain on one region's web app, with its TLS binding from a Key
// Vault certificate. Both regions bind the same name: Traffic Manager is DNS
// only, so the region that answers must present a certificate for that name.
// (An App Service managed certificate cannot be used here: it is issued only
// to a name that points straight at the web app, not through Traffic Manager.)

param siteName string
param location string
param serverFarmId string
param customDomain string
param keyVaultId string
param certificateSecretName string
param tags object = {}

resource certificate 'Microsoft.Web/certificates@2023-12-01' = {
  name: '${siteName}-${replace(customDomain, '.', '-')}'
  location: location
  tags: tags
  properties: {
    serverFarmId: serverFarmId
    keyVaultId: keyVaultId
    keyVaultSecretName: certificateSecretName
  }
}

resource site 'Microsoft.Web/sites@2023-12-01' existing = {
  name: siteName
}

// Needs the TXT record asuid.<domain> = the site's customDomainVerificationId
// and the CNAME <domain> -> the Traffic Manager name (infra/README.md).
resource binding 'Microsoft.Web/sites/hostNameBindings@2023-12-01' = {
  parent: site
  name: customDomain
  properties: {
    siteName: siteName
    hostNameType: 'Verified'
    customHostNameDnsRecordType: 'CName'
    sslState: 'SniEnabled'
    thumbprint: certificate.properties.thumbprint
  }
}
